{#- A model for the Jinja rendering benchmark: calls the macros of
    macros.sql the way dbt package code does. -#}
{%- set columns = [
    {'name': 'Order_ID', 'type': 'integer'},
    {'name': 'Customer_ID', 'type': 'INTEGER'},
    {'name': 'Status', 'type': 'string'},
    {'name': 'Amount', 'type': 'float'},
    {'name': 'Is_Gift', 'type': 'boolean'},
    {'name': 'Ordered_At', 'type': 'timestamp'},
    {'name': 'Channel', 'type': 'string'},
    {'name': 'Coupon "Code"', 'type': 'string'},
] -%}
{%- set payment_methods = ['credit_card', 'coupon', 'bank transfer', 'gift_card', "o'brien pay"] -%}
{%- set statuses = ['placed', 'shipped', 'completed', 'return_pending', 'returned'] -%}

with source as (
    select
    {{ col_list(columns, alias='src') }}
    from {{ quote_ident('raw') }}.{{ quote_ident('orders') }} as src
    where {{ filter_where({'channel': 'web', 'deleted_at': none, 'version': 2}) }}
),

{% call commented('payments') -%}
payments as (
    select
        order_id,
        {{ pivot('payment_method', payment_methods, prefix='paid_') }}
    from {{ quote_ident('raw') }}.{{ quote_ident('payments') }}
    group by 1
),
{%- endcall %}

statuses as (
    select
        order_id,
        {{- pivot('status', statuses, agg='max', then_value='true', else_value='false') }}
    from source
    group by 1
),

spine as (
{{ date_spine_sql('2024-01-01', 14) }}
),

final as (
    select
        {{ surrogate_key(['source.order_id', 'source.customer_id', 'payments.paid_coupon']) }} as order_key,
        {%- for c in columns %}
        source.{{ quote_ident(c.name | lower) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
        {%- for m in payment_methods %},
        coalesce(payments.{{ quote_ident('paid_' ~ m | replace(' ', '_')) }}, 0) as {{ m | replace(' ', '_') | replace("'", '') }}_total
        {%- endfor %}
    from source
    left join payments using (order_id)
    left join statuses using (order_id)
)

select * from final
