{#- Macros for the Jinja rendering benchmark (examples/bench_jinja.rs,
    scripts/bench_jinja.py): shapes typical of dbt packages. -#}

{% macro quote_ident(name) -%}
  "{{ name | replace('"', '""') }}"
{%- endmacro %}

{% macro type_for(dtype) -%}
  {%- set mapping = {'string': 'varchar', 'integer': 'bigint', 'float': 'double', 'boolean': 'boolean', 'timestamp': 'timestamp'} -%}
  {{- return(mapping.get(dtype | lower, dtype)) -}}
{%- endmacro %}

{% macro col_list(columns, alias=none) -%}
  {%- for c in columns -%}
    {%- if alias %}{{ alias }}.{% endif %}{{ quote_ident(c.name) }}::{{ type_for(c.type) }} as {{ quote_ident(c.name | lower) }}
    {%- if not loop.last %},
    {% endif -%}
  {%- endfor -%}
{%- endmacro %}

{% macro surrogate_key(fields) -%}
  md5(
  {%- for f in fields -%}
    coalesce(cast({{ f }} as varchar), '_dbt_utils_surrogate_key_null_')
    {%- if not loop.last %} || '-' || {% endif -%}
  {%- endfor -%}
  )
{%- endmacro %}

{% macro pivot(column, values, agg='sum', then_value=1, else_value=0, prefix='') -%}
  {%- for v in values %}
    {{ agg }}(case when {{ column }} = '{{ v | replace("'", "''") }}' then {{ then_value }} else {{ else_value }} end) as {{ quote_ident(prefix ~ v | lower | replace(' ', '_')) }}
    {%- if not loop.last %},{% endif -%}
  {%- endfor %}
{%- endmacro %}

{% macro classify(n) -%}
  {%- if n < 0 %}{{ return('negative') }}{% elif n == 0 %}{{ return('zero') }}{% endif -%}
  {{- return('positive') -}}
{%- endmacro %}

{% macro date_spine_sql(start, days) -%}
  {%- for i in range(days) %}
  select cast('{{ start }}' as date) + interval {{ i }} day as date_day, '{{ classify(i - 3) }}' as sign
  {%- if not loop.last %} union all{% endif -%}
  {%- endfor %}
{%- endmacro %}

{% macro commented(label) -%}
-- {{ label | upper }} ({{ '{:>4}'.format(label | length) }} chars)
{{ caller() }}
{%- endmacro %}

{% macro filter_where(conditions) -%}
  {%- set ns = namespace(parts=[]) -%}
  {%- for key, value in conditions | dictsort -%}
    {%- if value is none -%}
      {%- set ns.parts = ns.parts + [key ~ ' is null'] -%}
    {%- elif value is string -%}
      {%- set ns.parts = ns.parts + [key ~ " = '" ~ value ~ "'"] -%}
    {%- else -%}
      {%- set ns.parts = ns.parts + [key ~ ' = ' ~ value] -%}
    {%- endif -%}
  {%- endfor -%}
  {{ ns.parts | join('\n  and ') if ns.parts else '1 = 1' }}
{%- endmacro %}
