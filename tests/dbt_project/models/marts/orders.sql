select
    o.order_id,
    o.customer_id,
    o.order_date,
    o.status,
    {% for method in var('payment_methods') -%}
    coalesce(p.{{ method }}_amount, 0) as {{ method }}_amount,
    {% endfor -%}
    coalesce(p.total_amount, 0) as amount
from {{ ref('stg_orders') }} as o
left join {{ ref('int_order_payments') }} as p on o.order_id = p.order_id
