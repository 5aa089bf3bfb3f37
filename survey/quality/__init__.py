"""Instrument quality: does the survey measure six distinct things, equally well in every
language and version?

* :mod:`survey.quality.data` — item answers as a model sees them (keyed, complete cases).
* :mod:`survey.quality.fit` — the fit measures every model here reports (one definition).
* :mod:`survey.quality.cfa` — a single-group confirmatory factor analysis (semopy), with
  omega, AVE, factor correlations and HTMT.
* :mod:`survey.quality.multigroup` — the multigroup maximum-likelihood estimator with equality
  constraints that semopy lacks.
* :mod:`survey.quality.invariance` — configural, metric and scalar invariance, and which items'
  intercepts differ.
* :mod:`survey.quality.responses` — the app's own responses, ready for the above.
* :mod:`survey.quality.report` — what the Instrument quality page and the dashboard's notice show,
  with verdicts in plain words.
* :mod:`survey.quality.fits` — reports fitted once per refit round and kept, read ahead as the
  server starts.
"""
