"""Learners: ICP discovery, win propensity, leakage guard, evaluation and lookalikes.

Every learner follows the scikit-learn conventions: ``__init__`` only stores
parameters, ``fit`` returns ``self``, learned attributes end in ``_``. They
work on in-memory frames built by :mod:`tierwise.jobs` through the engine; none
holds a connection.
"""
