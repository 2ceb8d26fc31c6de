{{ config(materialized='incremental', unique_key='payment_id', incremental_strategy='delete+insert') }}
select
    p.payment_id,
    p.order_id,
    o.customer_id,
    p.payment_method,
    p.amount
from {{ ref('stg_payments') }} as p
join {{ ref('stg_orders') }} as o on p.order_id = o.order_id
{% if is_incremental() %}
where p.payment_id > (select max(payment_id) from {{ this }})
{% endif %}
