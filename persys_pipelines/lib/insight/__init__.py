"""Insight on the person's metrics: personal baselines, trends, change points, anomalies,
goal streaks, records, weekly correlations, and which of them are worth saying first.

Plain statistics over day-indexed arrays (numpy, pandas, scipy, statsmodels, ruptures,
pymannkendall); knows nothing of databases or Dagster. `lib/daily` feeds it a metric's values
(one per calendar day, NaN where the day has none) and stores what it returns.
May import `config` (goals) and `errors`. Its modules import numpy and friends at once:
`lib/daily` imports them inside the functions that compute, never at module level.
"""
