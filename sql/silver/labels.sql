{{ config(
    description='Typed labels: did the user purchase in the 7 days after label_ts?',
    columns={'user_id': 'long not null', 'label_ts': 'timestamptz not null', 'label': 'int not null'},
    checks=[{'unique': ['user_id', 'label_ts']}],
) }}
SELECT DISTINCT
    CAST(user_id AS BIGINT) AS user_id,
    CAST(label_ts AS TIMESTAMPTZ) AS label_ts,
    CAST(label AS INTEGER) AS label
FROM {{ source('bronze', 'labels') }}
WHERE user_id IS NOT NULL AND label_ts IS NOT NULL AND label IS NOT NULL
