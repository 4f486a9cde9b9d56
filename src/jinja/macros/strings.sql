{#- String macros (`dbt.concat`, `dbt.split_part`, `dbt.hash`, ...). Their
    arguments are SQL expressions, spliced in as given; string literals must
    arrive quoted (`"','"`). -#}

{% macro concat(fields) -%}
    {%- do return(adapter.dispatch('concat', 'dbt')(fields)) -%}
{%- endmacro %}

{% macro default__concat(fields) -%}
    {{ fields | join(' || ') }}
{%- endmacro %}

{#- md5 of the text form, so values of any type hash; null stays null. -#}
{% macro hash(field) -%}
    {%- do return(adapter.dispatch('hash', 'dbt')(field)) -%}
{%- endmacro %}

{% macro default__hash(field) -%}
    md5(cast({{ field }} as {{ api.Column.translate_type('string') }}))
{%- endmacro %}

{#- Part `part_number` (1-based) of `string_text` split on `delimiter_text`;
    negative numbers count from the end. -#}
{% macro split_part(string_text, delimiter_text, part_number) -%}
    {%- do return(adapter.dispatch('split_part', 'dbt')(string_text, delimiter_text, part_number)) -%}
{%- endmacro %}

{% macro default__split_part(string_text, delimiter_text, part_number) -%}
    split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }})
{%- endmacro %}

{#- DuckDB lists index from 1 and from the end with negative numbers, which
    is exactly split_part's numbering. -#}
{% macro duckdb__split_part(string_text, delimiter_text, part_number) -%}
    string_split({{ string_text }}, {{ delimiter_text }})[ {{ part_number }} ]
{%- endmacro %}

{#- For engines whose split_part rejects negative positions: turn "n-th from
    the end" into a position from the start by counting the delimiters
    (assumes a one-character delimiter). -#}
{% macro _split_part_negative(string_text, delimiter_text, part_number) -%}
    {%- set delimiters_in_text -%}
        length({{ string_text }}) - length(replace({{ string_text }}, {{ delimiter_text }}, ''))
    {%- endset -%}
    split_part({{ string_text }}, {{ delimiter_text }}, {{ delimiters_in_text }} + 2 + {{ part_number }})
{%- endmacro %}

{% macro replace(field, old_chars, new_chars) -%}
    {%- do return(adapter.dispatch('replace', 'dbt')(field, old_chars, new_chars)) -%}
{%- endmacro %}

{% macro default__replace(field, old_chars, new_chars) -%}
    replace({{ field }}, {{ old_chars }}, {{ new_chars }})
{%- endmacro %}

{% macro right(string_text, length_expression) -%}
    {%- do return(adapter.dispatch('right', 'dbt')(string_text, length_expression)) -%}
{%- endmacro %}

{% macro default__right(string_text, length_expression) -%}
    right({{ string_text }}, {{ length_expression }})
{%- endmacro %}

{% macro length(expression) -%}
    {%- do return(adapter.dispatch('length', 'dbt')(expression)) -%}
{%- endmacro %}

{% macro default__length(expression) -%}
    length({{ expression }})
{%- endmacro %}

{#- 1-based position of `substring_text` in `string_text`, 0 when absent. -#}
{% macro position(substring_text, string_text) -%}
    {%- do return(adapter.dispatch('position', 'dbt')(substring_text, string_text)) -%}
{%- endmacro %}

{% macro default__position(substring_text, string_text) -%}
    position({{ substring_text }} in {{ string_text }})
{%- endmacro %}

{#- Jinja-side helpers: they work on the text of the template, not on SQL
    values. `escape_single_quotes("it's")` gives `it''s`. -#}
{% macro escape_single_quotes(expression) -%}
    {%- do return(adapter.dispatch('escape_single_quotes', 'dbt')(expression)) -%}
{%- endmacro %}

{% macro default__escape_single_quotes(expression) -%}
    {{- expression | replace("'", "''") -}}
{%- endmacro %}

{% macro string_literal(value) -%}
    {%- do return(adapter.dispatch('string_literal', 'dbt')(value)) -%}
{%- endmacro %}

{% macro default__string_literal(value) -%}
    '{{ value }}'
{%- endmacro %}
