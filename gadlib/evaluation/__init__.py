"""Experiments and their evaluation: training runs over seeds, OAD windows and dense evaluation,
streaming and timing, metrics, intervals and verdicts, misclassification diversity, results files,
comparisons with the paper."""
