import type { DbtMacroFile } from './project.js';

/**
 * dbt's cross-database macros (the `dbt` namespace packages call: `dbt.dateadd`, `dbt.type_string`,
 * `adapter.dispatch('split_part', 'dbt')`…) and the macros that name a node's relation
 * (`generate_schema_name`, `generate_alias_name`), written here for DuckDB from their documented
 * signatures and meaning. They load as the macros of a package named `dbt`, below the project's
 * and its packages' own, so a project that defines one of them (a schema naming of its own, say)
 * keeps its own.
 */
const TEXT = String.raw`
{% macro current_timestamp() -%} now() {%- endmacro %}
{% macro current_timestamp_backcompat() -%} now()::timestamp {%- endmacro %}
{% macro current_timestamp_in_utc_backcompat() -%} now()::timestamp {%- endmacro %}
{% macro snapshot_get_time() -%} now()::timestamp {%- endmacro %}

{% macro dateadd(datepart, interval, from_date_or_timestamp) -%}
  date_add({{ from_date_or_timestamp }}, interval ({{ interval }}) {{ datepart }})
{%- endmacro %}
{% macro datediff(first_date, second_date, datepart) -%}
  date_diff('{{ datepart }}', {{ first_date }}::timestamp, {{ second_date }}::timestamp)
{%- endmacro %}
{% macro date_trunc(datepart, date) -%} date_trunc('{{ datepart }}', {{ date }}) {%- endmacro %}
{% macro last_day(date, datepart) -%}
  cast(date_trunc('{{ datepart }}', {{ date }}) + interval 1 {{ datepart }} - interval 1 day as date)
{%- endmacro %}
{% macro date(year, month, day) -%} make_date({{ year }}, {{ month }}, {{ day }}) {%- endmacro %}

{% macro split_part(string_text, delimiter_text, part_number) -%}
  split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }})
{%- endmacro %}
{% macro replace(field, old_chars, new_chars) -%} replace({{ field }}, {{ old_chars }}, {{ new_chars }}) {%- endmacro %}
{% macro concat(fields) -%} {{ fields | join(' || ') }} {%- endmacro %}
{% macro hash(field) -%} md5(cast({{ field }} as varchar)) {%- endmacro %}
{% macro length(expression) -%} length({{ expression }}) {%- endmacro %}
{% macro position(substring_text, string_text) -%} position({{ substring_text }} in {{ string_text }}) {%- endmacro %}
{% macro right(string_text, length_expression) -%} right({{ string_text }}, {{ length_expression }}) {%- endmacro %}
{% macro escape_single_quotes(expression) -%} {{ expression | replace("'", "''") }} {%- endmacro %}
{% macro string_literal(value) -%} '{{ value }}' {%- endmacro %}

{% macro cast(field, type) -%} cast({{ field }} as {{ type }}) {%- endmacro %}
{% macro safe_cast(field, type) -%} try_cast({{ field }} as {{ type }}) {%- endmacro %}
{% macro cast_bool_to_text(field) -%} cast({{ field }} as varchar) {%- endmacro %}

{% macro any_value(expression) -%} any_value({{ expression }}) {%- endmacro %}
{% macro bool_or(expression) -%} bool_or({{ expression }}) {%- endmacro %}
{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) -%}
  {%- if limit_num -%}
  array_to_string(list_slice(list({{ measure }} {{ order_by_clause or '' }}), 1, {{ limit_num }}), {{ delimiter_text }})
  {%- else -%}
  string_agg({{ measure }}, {{ delimiter_text }} {{ order_by_clause or '' }})
  {%- endif -%}
{%- endmacro %}

{% macro except() -%} except {%- endmacro %}
{% macro intersect() -%} intersect {%- endmacro %}

{% macro type_string() -%} varchar {%- endmacro %}
{% macro type_timestamp() -%} timestamp {%- endmacro %}
{% macro type_float() -%} double {%- endmacro %}
{% macro type_numeric() -%} numeric(28, 6) {%- endmacro %}
{% macro type_bigint() -%} bigint {%- endmacro %}
{% macro type_int() -%} integer {%- endmacro %}
{% macro type_boolean() -%} boolean {%- endmacro %}

{% macro array_construct(inputs=[], data_type=none) -%} [{{ inputs | join(', ') }}] {%- endmacro %}
{% macro array_append(array, new_element) -%} list_append({{ array }}, {{ new_element }}) {%- endmacro %}
{% macro array_concat(array_1, array_2) -%} list_concat({{ array_1 }}, {{ array_2 }}) {%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%} {{ target.schema }} {%- else -%} {{ target.schema }}_{{ custom_schema_name | trim }} {%- endif -%}
{%- endmacro %}
{% macro generate_schema_name(custom_schema_name=none, node=none) -%}
  {{ default__generate_schema_name(custom_schema_name, node) }}
{%- endmacro %}
{% macro generate_schema_name_for_env(custom_schema_name, node) -%}
  {%- if target.name == 'prod' and custom_schema_name is not none -%} {{ custom_schema_name | trim }} {%- else -%} {{ target.schema }} {%- endif -%}
{%- endmacro %}
{% macro default__generate_alias_name(custom_alias_name=none, node=none) -%}
  {%- if custom_alias_name -%} {{ custom_alias_name | trim }}
  {%- elif node.version -%} {{ node.name ~ '_v' ~ node.version }}
  {%- else -%} {{ node.name }} {%- endif -%}
{%- endmacro %}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
  {{ default__generate_alias_name(custom_alias_name, node) }}
{%- endmacro %}
`;

export const DBT_BUILTINS: DbtMacroFile = { package: 'dbt', file: '(tributary: dbt’s cross-database macros)', text: TEXT };
