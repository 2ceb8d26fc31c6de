{{ config(
    materialized='table',
    description='Per-user features as of the end of each day the user was active (a feature history, so training sets can join point-in-time).',
    columns={
        'user_id': 'long not null',
        'feature_date': 'date not null',
        'available_at': 'timestamptz not null',
        'total_spend': 'double',
        'num_events': 'long',
        'last_seen': 'timestamptz',
        'spend_last_7d': 'double',
        'spend_last_30d': 'double',
        'log1p_total_spend': 'double',
    },
    checks=[
        {'unique': ['user_id', 'feature_date']},
        {'range': {'column': 'total_spend', 'min': 0}},
        {'sql': 'SELECT * FROM {{ this }} WHERE spend_last_7d > spend_last_30d + 1e-6 OR spend_last_30d > total_spend + 1e-6', 'name': 'windows_nest'},
    ],
) }}
WITH daily AS (
    SELECT
        user_id,
        CAST(ts AS DATE) AS feature_date,
        count(*) AS events,
        sum(amount) AS spend,
        max(ts) AS last_ts
    FROM {{ ref('silver.events') }}
    GROUP BY user_id, CAST(ts AS DATE)
)
SELECT
    user_id,
    feature_date,
    -- a day's features are known once the day is over: no training row may see them earlier
    CAST(feature_date + INTERVAL 1 DAY AS TIMESTAMPTZ) AS available_at,
    sum(spend) OVER (PARTITION BY user_id ORDER BY feature_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS total_spend,
    CAST(sum(events) OVER (PARTITION BY user_id ORDER BY feature_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS num_events,
    max(last_ts) OVER (PARTITION BY user_id ORDER BY feature_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_seen,
    sum(spend) OVER (PARTITION BY user_id ORDER BY feature_date RANGE BETWEEN INTERVAL 6 DAYS PRECEDING AND CURRENT ROW) AS spend_last_7d,
    sum(spend) OVER (PARTITION BY user_id ORDER BY feature_date RANGE BETWEEN INTERVAL 29 DAYS PRECEDING AND CURRENT ROW) AS spend_last_30d,
    ln(1 + sum(spend) OVER (PARTITION BY user_id ORDER BY feature_date ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS log1p_total_spend
FROM daily
