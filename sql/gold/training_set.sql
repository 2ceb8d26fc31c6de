{{ config(
    materialized='table',
    engine='duckdb',
    description='One row per label with the features as they were at label_ts (DuckDB ASOF JOIN): no future information leaks into training.',
    columns={
        'user_id': 'long not null',
        'label_ts': 'timestamptz not null',
        'label': 'int not null',
        'features_at': 'timestamptz',
        'total_spend': 'double not null',
        'num_events': 'long not null',
        'spend_last_7d': 'double not null',
        'spend_last_30d': 'double not null',
        'log1p_total_spend': 'double not null',
        'days_since_seen': 'double',
    },
    checks=[
        {'unique': ['user_id', 'label_ts']},
        {'sql': 'SELECT * FROM {{ this }} WHERE features_at > label_ts', 'name': 'no_future_features'},
        {'accepted_values': {'column': 'label', 'values': [0, 1]}},
        {'row_count': {'min': 1}},
    ],
) }}
{# engine='duckdb': Spark has no ASOF JOIN, and its rewrite (a range join ranked by row_number) is not
   written yet, so `lake run --engine spark` builds this one model on DuckDB and says so. #}
SELECT
    l.user_id,
    l.label_ts,
    l.label,
    f.available_at AS features_at,
    coalesce(f.total_spend, 0) AS total_spend,
    coalesce(f.num_events, 0) AS num_events,
    -- windows end at the feature day; a label days later sees them as of that day
    coalesce(f.spend_last_7d, 0) AS spend_last_7d,
    coalesce(f.spend_last_30d, 0) AS spend_last_30d,
    coalesce(f.log1p_total_spend, 0) AS log1p_total_spend,
    date_diff('second', f.last_seen, l.label_ts) / 86400.0 AS days_since_seen
FROM {{ ref('silver.labels') }} AS l
ASOF LEFT JOIN {{ ref('gold.user_features') }} AS f
    ON l.user_id = f.user_id AND l.label_ts >= f.available_at
