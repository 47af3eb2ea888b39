"""labelaudit's confident-learning library.

Pure numpy / scikit-learn implementations of the confident-learning methods of
Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels"
(JAIR 2021), with public names and signatures that mirror cleanlab 2.x, so that
``from cleanlab.filter import find_label_issues`` becomes
``from core.filter import find_label_issues``.

Modules: :mod:`core.count` (confident joint, noise matrices), :mod:`core.filter`
(``find_label_issues``), :mod:`core.rank` (label quality scores),
:mod:`core.classification` (``CleanLearning``), :mod:`core.dataset` (dataset health),
:mod:`core.multilabel_classification` (the same for multi-label data: filter, rank,
dataset), :mod:`core.token_classification` (token labels of sentences, for NER: filter,
rank, summary), :mod:`core.multiannotator` (several annotators per example: consensus,
label and annotator quality, CROWDLAB and ActiveLab), :mod:`core.benchmarking.noise`
(synthetic noise), :mod:`core.experimental.label_issues_batched` (label issues of data
read in chunks, behind ``low_memory=True``), and the 1.x names
:mod:`core.pruning` and :mod:`core.latent_estimation`.
"""

__version__ = "0.1.0"
