{# No incremental_strategy: dbt-duckdb appends what the filter selects; lake's default ('snapshot') reads
   what the inputs gained instead (a rewritten seed: everything, so a changed row is seen). #}
{{ config(materialized='incremental') }}
select payment_id, order_id, amount
from {{ ref('stg_payments') }}
{% if is_incremental() %}
where payment_id > (select max(payment_id) from {{ this }})
{% endif %}
