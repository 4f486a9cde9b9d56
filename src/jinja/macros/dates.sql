{#- Date and time macros (`dbt.dateadd`, `dbt.datediff`, `dbt.date_trunc`,
    `dbt.last_day`, `dbt.date`, `dbt.current_timestamp`...). `datepart` is
    a bare word (`day`, `week`, `quarter`...); dates are SQL expressions. -#}

{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- do return(adapter.dispatch('dateadd', 'dbt')(datepart, interval, from_date_or_timestamp)) -%}
{%- endmacro %}

{% macro default__dateadd(datepart, interval, from_date_or_timestamp) -%}
    dateadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{#- The interval is multiplied into a one-unit INTERVAL so that it may be any
    expression (a column, `row_number() ...`), not only a literal. DuckDB has
    no `interval 1 quarter`/week arithmetic with a variable count, so those
    become 3 months and 7 days. -#}
{% macro duckdb__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set step = dbt.interval_count_and_unit(datepart, interval) -%}
    ({{ from_date_or_timestamp }} + {{ step[0] }} * interval 1 {{ step[1] }})
{%- endmacro %}

{#- `interval` `datepart`s as (count SQL, unit) for interval arithmetic
    with a variable count, which knows no quarters or weeks: those become
    3 months and 7 days. -#}
{% macro interval_count_and_unit(datepart, interval) -%}
    {%- set unit = datepart | lower -%}
    {%- set scaled = {'quarter': (3, 'month'), 'week': (7, 'day')} -%}
    {%- set count = 'cast(' ~ interval ~ ' as bigint)' -%}
    {%- if unit in scaled -%}
        {%- do return(('(' ~ count ~ ' * ' ~ scaled[unit][0] ~ ')', scaled[unit][1])) -%}
    {%- endif -%}
    {%- do return((count, unit)) -%}
{%- endmacro %}

{#- Number of `datepart` boundaries crossed going from `first_date` to
    `second_date` (negative when second_date is earlier). -#}
{% macro datediff(first_date, second_date, datepart) -%}
    {%- do return(adapter.dispatch('datediff', 'dbt')(first_date, second_date, datepart)) -%}
{%- endmacro %}

{% macro default__datediff(first_date, second_date, datepart) -%}
    datediff({{ datepart }}, {{ first_date }}, {{ second_date }})
{%- endmacro %}

{#- Weeks are counted as whole days // 7, plus one when the week boundary
    (Sunday) falls inside the remainder: the day of the week of the later
    date is before that of the earlier one. -#}
{% macro duckdb__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'week' -%}
        {%- set forward = first_date ~ ' <= ' ~ second_date -%}
        ({{ datediff(first_date, second_date, 'day') }} // 7 + case
            when date_part('dow', ({{ first_date }})::timestamp) <= date_part('dow', ({{ second_date }})::timestamp)
                then case when {{ forward }} then 0 else -1 end
            else case when {{ forward }} then 1 else 0 end
        end)
    {%- else -%}
        (date_diff('{{ datepart }}', {{ first_date }}::timestamp, {{ second_date }}::timestamp))
    {%- endif -%}
{%- endmacro %}

{% macro date_trunc(datepart, date) -%}
    {%- do return(adapter.dispatch('date_trunc', 'dbt')(datepart, date)) -%}
{%- endmacro %}

{% macro default__date_trunc(datepart, date) -%}
    date_trunc('{{ datepart }}', {{ date }})
{%- endmacro %}

{#- The last day (a date) of the `datepart` period containing `date`: the
    start of the next period, minus one day. -#}
{% macro last_day(date, datepart) -%}
    {%- do return(adapter.dispatch('last_day', 'dbt')(date, datepart)) -%}
{%- endmacro %}

{% macro default_last_day(date, datepart) -%}
    {%- set next_period = dbt.dateadd(datepart, '1', dbt.date_trunc(datepart, date)) -%}
    cast({{ dbt.dateadd('day', '-1', next_period) }} as date)
{%- endmacro %}

{% macro default__last_day(date, datepart) -%}
    {{- dbt.default_last_day(date, datepart) -}}
{%- endmacro %}

{#- A quarter is stepped as three months (see duckdb__dateadd). -#}
{% macro duckdb__last_day(date, datepart) -%}
    {%- if datepart == 'quarter' -%}
        {%- set next_period = dbt.dateadd('month', '3', dbt.date_trunc(datepart, date)) -%}
        cast({{ dbt.dateadd('day', '-1', next_period) }} as date)
    {%- else -%}
        {{- dbt.default_last_day(date, datepart) -}}
    {%- endif -%}
{%- endmacro %}

{#- A date literal from Jinja numbers: `dbt.date(2024, 2, 29)`. -#}
{% macro date(year, month, day) -%}
    {%- do return(adapter.dispatch('date', 'dbt')(year, month, day)) -%}
{%- endmacro %}

{% macro default__date(year, month, day) -%}
    {%- if month < 1 or month > 12 or day < 1 or day > 31 -%}
        {%- do exceptions.raise_compiler_error('dbt.date(' ~ year ~ ', ' ~ month ~ ', ' ~ day ~ ') is not a date') -%}
    {%- endif -%}
    {#- Month and day zero-padded; the year as written (dbt-core formats it
        with Python's strftime('%Y'), which does not pad years before 1000
        on Linux). -#}
    {%- set iso = (year | string) ~ '-' ~ (month | string).zfill(2) ~ '-' ~ (day | string).zfill(2) -%}
    to_date('{{ iso }}', 'YYYY-MM-DD')
{%- endmacro %}

{% macro duckdb__date(year, month, day) -%}
    make_date({{ year }}, {{ month }}, {{ day }})
{%- endmacro %}

{#- The current time. On DuckDB `now()`: a TIMESTAMP WITH TIME ZONE. -#}
{% macro current_timestamp() -%}
    {{- adapter.dispatch('current_timestamp', 'dbt')() -}}
{%- endmacro %}

{% macro default__current_timestamp() -%}
    {%- do exceptions.raise_not_implemented('current_timestamp is not implemented for adapter ' ~ adapter.type()) -%}
{%- endmacro %}

{% macro duckdb__current_timestamp() -%}
    now()
{%- endmacro %}

{#- Kept for projects that moved from `dbt_utils.current_timestamp()`: a
    timestamp without time zone. -#}
{% macro current_timestamp_backcompat() -%}
    {%- do return(adapter.dispatch('current_timestamp_backcompat', 'dbt')()) -%}
{%- endmacro %}

{% macro default__current_timestamp_backcompat() -%}
    current_timestamp::timestamp
{%- endmacro %}

{% macro current_timestamp_in_utc_backcompat() -%}
    {%- do return(adapter.dispatch('current_timestamp_in_utc_backcompat', 'dbt')()) -%}
{%- endmacro %}

{% macro default__current_timestamp_in_utc_backcompat() -%}
    {%- do return(adapter.dispatch('current_timestamp_backcompat', 'dbt')()) -%}
{%- endmacro %}
