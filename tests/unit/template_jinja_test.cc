// The Jinja interpreter (src/kvlab/template/) against Python's jinja2 3.1.6 configured as Hugging Face
// transformers configures it (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
// raise_exception, HF's tojson, the {% generation %} tag). Every expected string in the tables below was
// recorded once from jinja2 with the context in kContextJson; nothing is computed from Python at test time.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "kvlab/template/jinja.h"
#include "kvlab/util/error.h"

namespace kvlab::jinja {
namespace {

struct RenderCase {
  const char* name;
  const char* source;
  const char* expected;
};

const char* const kContextJson = R"json({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"b": 1, "a": [1.5, null, true]}}}]}], "n": 3, "s": "Hello World", "xs": [3, 1, 2], "d": {"b": 1, "a": 2}, "f": 2.5, "u": "héllo wörld", "empty": [], "none_value": null})json";

const RenderCase kWhitespaceCases[] = {
    {"trim_blocks_removes_newline_after_block",
     "a\n{% if true %}\nb\n{% endif %}\nc",
     "a\nb\nc"},
    {"lstrip_blocks_removes_indent_before_block",
     "a\n  {% if true %}\n  b\n  {% endif %}\nc\n",
     "a\n  b\nc"},
    {"plus_disables_lstrip",
     "a\n  {%+ if true %}\n  b\n  {%+ endif %}\nc",
     "a\n    b\n  c"},
    {"plus_disables_trim",
     "a\n  {% if true +%}\n  b\n  {% endif +%}\nc",
     "a\n\n  b\n\nc"},
    {"lstrip_only_at_line_start",
     "a  {% if true %}b{% endif %}  c",
     "a  b  c"},
    {"lstrip_at_template_start",
     "  {% if true %}x{% endif %}",
     "x"},
    {"lstrip_and_trim_apply_to_comments",
     "\t {# comment #}\nx",
     "x"},
    {"minus_on_comments",
     "a {#- c -#} b",
     "ab"},
    {"print_tags_neither_lstripped_nor_trimmed",
     "a\n  {{ 1 }}\n  {{- 2 -}}\n  {{ 3 }}\n",
     "a\n  123"},
    {"minus_strips_all_whitespace",
     "a   {%- if true -%}   b   {%- endif -%}   c",
     "abc"},
    {"for_loop_lines",
     "{% for x in [1,2] %}\n  {{ x }}\n{% endfor %}\n",
     "  1\n  2\n"},
    {"for_loop_minus",
     "{%- for x in [1,2] -%}\n  {{ x }}\n{%- endfor -%}\n",
     "12"},
    {"crlf_and_cr_become_newlines",
     "x\r\ny\r{% if true %}\r\nz{% endif %}\r\n",
     "x\ny\nz"},
    {"one_trailing_newline_dropped",
     "trailing\n\n",
     "trailing\n"},
    {"raw_block",
     "{% raw %}\n  {{ x }}\n{% endraw %}\nafter",
     "\n  {{ x }}\nafter"},
    {"raw_block_with_minus",
     "  {% raw -%}   a   {%- endraw %}  b",
     "a  b"},
    {"braces_inside_print",
     "{{ '{{' }} {{ '}}' }} {{ {'a': {'b': 1}} }}",
     "{{ }} {'a': {'b': 1}}"},
    {"minus_after_set_eats_blank_lines",
     "{% set x = 1 -%}\n\n  {{ x }}",
     "1"},
    {"multiline_comment",
     "line1\n{# multi\nline\ncomment #}\nline2",
     "line1\nline2"},
    {"tabs_and_spaces_lstripped",
     "a\n\t \t{% if true %}b{% endif %}",
     "a\nb"},
    {"lstrip_after_print_on_same_line_keeps_spaces",
     "{{ 1 }}  {% if true %}x{% endif %}",
     "1  x"},
    {"nested_blocks_on_one_line",
     "{% if true %}\n  {% if true %}x{% endif %}{% endif %}",
     "x"},
    {"consecutive_prints",
     "{{ 'a' }}\n{{ 'b' }}\n",
     "a\nb"},
    {"consecutive_comments",
     "{# c #}\n{# d #}\nx",
     "x"},
};

const RenderCase kPrintingCases[] = {
    {"numbers",
     "{{ 1 }} {{ 1.0 }} {{ 0.1 }} {{ 1e16 }} {{ 1e-5 }} {{ 0.1+0.2 }} {{ 1/3 }} {{ -0.0 }} {{ 2.5e-300 }} {{ 123456789.125 }}",
     "1 1.0 0.1 1e+16 1e-05 0.30000000000000004 0.3333333333333333 -0.0 2.5e-300 123456789.125"},
    {"constants",
     "{{ true }} {{ none }} {{ True }} {{ None }} {{ false }}",
     "True None True None False"},
    {"containers",
     "{{ [1, 'a', none, true, 1.5] }} {{ {'a': 1, 'b': [2]} }} {{ (1,) }} {{ () }} {{ (1, 2) }} {{ xs }} {{ d }}",
     "[1, 'a', None, True, 1.5] {'a': 1, 'b': [2]} (1,) () (1, 2) [3, 1, 2] {'b': 1, 'a': 2}"},
    {"string_repr_quotes_and_escapes",
     "{{ [\"it's\", 'a\"b', 'both\\'\"', '\\n\\t\\\\', '\\x01', 'é'] }}",
     "[\"it's\", 'a\"b', 'both\\'\"', '\\n\\t\\\\', '\\x01', 'é']"},
    {"string_escapes_in_literals",
     "{{ '\\u00e9\\x41\\101' }}|{{ \"tab\\tnl\\n\" }}|{{ 'a' 'b' }}|{{ '\\d' }}",
     "éAA|tab\tnl\n|ab|\\d"},
    {"integer_literals",
     "{{ 1_000 }} {{ 0x10 }} {{ 1.5e3 }} {{ 0o17 }} {{ 0b101 }} {{ 2E-3 }}",
     "1000 16 1500.0 15 5 0.002"},
    {"undefined_prints_empty",
     "[{{ nope }}][{{ d.nope }}][{{ xs[10] }}][{{ none_value.x }}]",
     "[][][][]"},
    {"namespace_and_dict",
     "{{ namespace(a=1) }} {{ dict(a=1, b='x') }}",
     "<Namespace {'a': 1}> {'a': 1, 'b': 'x'}"},
};

const RenderCase kOperatorsCases[] = {
    {"arithmetic",
     "{{ -3 // 2 }} {{ -3 % 2 }} {{ 3 % -2 }} {{ 2**-1 }} {{ 2**3**2 }} {{ 7 / 2 }} {{ 6 / 2 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ True + 1 }} {{ 2 * 3.0 }} {{ 10 - 2.5 }}",
     "-2 1 -1 0.5 64 3.5 3.0 3.0 0.5 2 6.0 7.5"},
    {"sequences",
     "{{ 'x' * 3 }} {{ [1] * 2 }} {{ 3 * 'ab' }} {{ 'a' ~ 1 ~ none ~ true ~ nope }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 'ab' * 0 }}",
     "xxx [1, 1] ababab a1NoneTrue ab [1, 2] "},
    {"comparisons",
     "{{ 1 < 2 < 3 }} {{ 1 < 2 > 3 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 2 >= 2 }} {{ 1 != 1 }} {{ none == none }} {{ nope == nope }}",
     "True False True True True True False True True"},
    {"membership",
     "{{ 'a' in 'abc' }} {{ 'z' not in 'abc' }} {{ 1 in xs }} {{ 'a' in d }} {{ 'a' in nope }} {{ 2 not in xs }}",
     "True True True True False False"},
    {"logic_returns_operands",
     "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }} {{ '' and 1 }} {{ not true }} {{ not 1 == 2 }} {{ nope or 'fallback' }}",
     "x y []  False True fallback"},
    {"conditional_expression",
     "{{ 1 if true else 2 }} {{ 1 if false else 2 }} [{{ 1 if false }}] {{ 'a' if n > 2 else 'b' if n > 1 else 'c' }}",
     "1 2 [] a"},
    {"unary_minus_binds_before_filter",
     "{{ -3|abs }} {{ -(3)|abs }} {{ -xs|length if false else 0 }}",
     "3 3 0"},
    {"slicing",
     "{{ 'abc'[::-1] }} {{ [1,2,3][-2:] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3,4,5][4:1:-1] }} {{ 'héllo'[1:3] }} {{ 'héllo'[-1] }} {{ xs[10:] }} {{ xs[-10:1] }} {{ xs[:] }} {{ (1,2,3)[1:] }}",
     "cba [2, 3] [1, 3, 5] [5, 4, 3] él o [] [3] [3, 1, 2] (2, 3)"},
    {"attribute_and_item_access",
     "{{ messages[1].role }} {{ messages[1]['content'] }} {{ messages.1.role }} {{ (messages|last).content }} {{ messages[-1].tool_calls[0].function.name }} {{ d['a'] }}",
     "user Hi user Yo f 2"},
};

const RenderCase kStatementsCases[] = {
    {"if_elif_else",
     "{% for v in [1, 3, 5] %}{% if v == 1 %}one{% elif v == 3 %}three{% else %}other{% endif %};{% endfor %}",
     "one;three;other;"},
    {"loop_variables",
     "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
     "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|"},
    {"loop_prev_next_items",
     "{% for x in xs %}{{ loop.previtem }}-{{ x }}-{{ loop.nextitem }};{% endfor %}",
     "-3-1;3-1-2;1-2-;"},
    {"loop_cycle",
     "{% for x in [1, 2, 3, 4, 5] %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}",
     "abcab"},
    {"for_with_inline_if",
     "{% for x in xs if x > 1 %}{{ x }}{{ loop.length }}{{ loop.last }}{% else %}none{% endfor %}",
     "32False22True"},
    {"for_else",
     "{% for x in empty %}{{ x }}{% else %}empty{% endfor %}{% for x in nope %}{% else %}undefined{% endfor %}",
     "emptyundefined"},
    {"for_unpacking",
     "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for (a, b) in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}",
     "b=1;a=2;37"},
    {"for_over_dict_and_string",
     "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'hé!' %}[{{ c }}]{% endfor %}",
     "ba|[h][é][!]"},
    {"break_and_continue",
     "{% for x in xs %}{% if x == 1 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for x in xs %}{% if x == 1 %}{% continue %}{% endif %}{{ x }}{% endfor %}",
     "3|32"},
    {"nested_loops_shadow_loop",
     "{% for a in [1, 2] %}{% set outer = loop %}{% for b in [1, 2] %}{{ outer.index }}{{ loop.index }} {% endfor %}{% endfor %}",
     "11 12 21 22 "},
    {"loop_scope_does_not_leak",
     "{% set x = 5 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}",
     "51525"},
    {"namespace_carries_out_of_loops",
     "{% set ns = namespace(a=1, b='x') %}{% for x in xs %}{% set ns.a = ns.a + x %}{% endfor %}{{ ns.a }}{{ ns.b }}",
     "7x"},
    {"set_tuple_and_block",
     "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set x %}hello {{ n }}{% endset %}[{{ x }}]",
     "12[hello 3]"},
    {"set_in_if_is_visible_after",
     "{% if true %}{% set y = 'in' %}{% endif %}{{ y }}",
     "in"},
    {"macro_with_defaults_and_globals",
     "{% macro m(a, b=2) %}{{ a }}{{ b }}{{ x }}{% endmacro %}{% set x = 9 %}{{ m(1) }}{{ m(1, b=5) }}{{ m(a=7) }}",
     "129159729"},
    {"macro_recursion",
     "{% macro fact(k) %}{{ 1 if k <= 1 else k * fact(k - 1)|int }}{% endmacro %}{{ fact(5) }}",
     "120"},
    {"call_block",
     "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}body {{ n }}{% endcall %}",
     "<b>body 3</b>"},
    {"call_block_with_arguments",
     "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(item) each(xs) %}<{{ item }}>{% endcall %}",
     "<3><1><2>"},
    {"filter_block",
     "{% filter upper %}hello {{ s }}{% endfilter %}|{% filter trim | replace('a', 'b') %}  aaa  {% endfilter %}",
     "HELLO HELLO WORLD|bbb"},
    {"with_block",
     "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]",
     "3[]"},
    {"generation_block",
     "{% generation %}gen {{ n }}{% endgeneration %}",
     "gen 3"},
    {"range",
     "{{ range(3)|list }} {{ range(1, 5)|list }} {{ range(10, 0, -3)|list }} {{ range(0)|list }} {% for i in range(2) %}{{ i }}{% endfor %}",
     "[0, 1, 2] [1, 2, 3, 4] [10, 7, 4, 1] [] 01"},
};

const RenderCase kFiltersCases[] = {
    {"string_case",
     "{{ s|upper }} {{ s|lower }} {{ 'hello world-foo(bar'|title }} {{ 'hELLO wORLD'|capitalize }}",
     "HELLO WORLD hello world Hello World-Foo(Bar Hello world"},
    {"trim",
     "[{{ '  x  '|trim }}] [{{ 'xxaxx'|trim('x') }}] [{{ ' \t\n x \n'|trim }}] [{{ nope|trim }}]",
     "[x] [a] [x] []"},
    {"length_first_last",
     "{{ xs|length }} {{ s|length }} {{ u|length }} {{ d|length }} {{ nope|length }} {{ xs|count }} {{ xs|first }} {{ xs|last }} {{ 'abc'|first }}",
     "3 11 11 2 0 3 3 2 a"},
    {"join_and_sort",
     "{{ xs|join(',') }} {{ xs|join }} {{ messages|join(', ', attribute='role') }} {{ xs|sort }} {{ xs|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }}",
     "3,1,2 312 system, user, assistant [1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] ['A', 'b', 'c']"},
    {"sort_by_attribute",
     "{{ messages|sort(attribute='role')|map(attribute='role')|join(' ') }}",
     "assistant system user"},
    {"default",
     "{{ nope|default('dflt') }} {{ ''|default('e', true) }} {{ none_value|default('n') }} {{ nope|d('short') }} {{ 0|default(5) }}",
     "dflt e None short 0"},
    {"list_and_replace",
     "{{ xs|list }} {{ 'ab'|list }} {{ d|list }} {{ s|replace('o', '0') }} {{ s|replace('o', '0', 1) }} {{ 'aaa'|replace('', '-') }}",
     "[3, 1, 2] ['a', 'b'] ['b', 'a'] Hell0 W0rld Hell0 World -a-a-a-"},
    {"numbers",
     "{{ 2.5|round }} {{ 3.5|round }} {{ 3|round }} {{ 2.567|round(2) }} {{ 2.561|round(1, 'floor') }} {{ 2.561|round(1, 'ceil') }} {{ -3|abs }} {{ -3.5|abs }} {{ 0.125|round(2) }}",
     "2.0 4.0 3 2.57 2.5 2.6 3 3.5 0.12"},
    {"conversions",
     "{{ '3'|int + 1 }} {{ '3.7'|int }} {{ 'x'|int }} {{ 'x'|int(5) }} {{ 3.9|int }} {{ '2.5'|float }} {{ 'x'|float }} {{ 3|float }} {{ 5|string ~ 'x' }} {{ '0x1A'|int(base=16) }} {{ ' 1_000 '|int }} {{ true|int }}",
     "4 3 0 5 3 2.5 0.0 3.0 5x 26 1000 1"},
    {"items_and_dictsort",
     "{{ d|items|list }} {{ d|dictsort }} {{ d|dictsort(by='value') }} {{ d|dictsort(reverse=true) }} {{ nope|items|list }}",
     "[('b', 1), ('a', 2)] [('a', 2), ('b', 1)] [('b', 1), ('a', 2)] [('b', 1), ('a', 2)] []"},
    {"map_select_reject",
     "{{ messages|map(attribute='role')|list }} {{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }} {{ messages|rejectattr('role', 'eq', 'user')|map(attribute='content')|join('+') }} {{ messages|selectattr('tool_calls')|list|length }} {{ messages|map(attribute='missing', default='?')|join }}",
     "['system', 'user', 'assistant'] ['Hi'] Be brief.+Yo 1 ???"},
    {"select_with_tests",
     "{{ xs|select('odd')|list }} {{ xs|reject('odd')|list }} {{ [0, 1, '', 'a', none]|select|list }} {{ xs|map('string')|join('-') }} {{ [1, 2, 3, 4]|select('divisibleby', 2)|list }} {{ ['a', 'b']|map('upper')|list }}",
     "[3, 1] [2] [1, 'a'] 3-1-2 [2, 4] ['A', 'B']"},
    {"unique_reverse_min_max_sum",
     "{{ [1, 2, 1, 'a', 'A']|unique|list }} {{ xs|reverse|list }} {{ 'abc'|reverse }} {{ xs|min }} {{ xs|max }} {{ xs|sum }} {{ [0.5, 1]|sum }} {{ ['b', 'A']|max }} {{ empty|max }}",
     "[1, 2, 'a'] [2, 1, 3] cba 1 3 6 1.5 b "},
    {"indent",
     "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb\\n\\nc'|indent(2, true) }}|{{ 'a\\nb\\n\\nc'|indent(2, blank=true) }}|{{ 'a\\nb'|indent('>>') }}",
     "a\n    b\n\n    c|  a\n  b\n\n  c|a\n  b\n  \n  c|a\n>>b"},
    {"wordcount_batch_escape_safe",
     "{{ 'one two  three'|wordcount }} {{ xs|batch(2)|list }} {{ xs|batch(2, 0)|list }} {{ '<a href=\"x\">&\\''|e }} {{ '<b>'|safe }} {{ 'x'|center(5) }}|",
     "3 [[3, 1], [2]] [[3, 1], [2, 0]] &lt;a href=&#34;x&#34;&gt;&amp;&#39; <b>   x  |"},
    {"tojson",
     "{{ messages[2]|tojson }} {{ 'é\"\\n\\t\\x01'|tojson }} {{ 'é😀'|tojson(ensure_ascii=true) }} {{ d|tojson(sort_keys=true) }} {{ [1.0, 1e20, true, none]|tojson }} {{ d|tojson(separators=(',', ':')) }}",
     "{\"role\": \"assistant\", \"content\": \"Yo\", \"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": [1.5, null, true]}}}]} \"é\\\"\\n\\t\\u0001\" \"\\u00e9\\ud83d\\ude00\" {\"a\": 2, \"b\": 1} [1.0, 1e+20, true, null] {\"b\":1,\"a\":2}"},
    {"tojson_indent",
     "{{ d|tojson(indent=2) }}\n{{ {'a': [], 'b': {}, 'c': [1, {'d': none}]}|tojson(indent=2) }}\n{{ [1, [2]]|tojson(indent='\\t') }}",
     "{\n  \"b\": 1,\n  \"a\": 2\n}\n{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": null\n    }\n  ]\n}\n[\n\t1,\n\t[\n\t\t2\n\t]\n]"},
    {"attr",
     "{{ (messages|first)|attr('role') }}|{{ namespace(x=1)|attr('x') }}",
     "|1"},
};

const RenderCase kTestsCases[] = {
    {"type_tests",
     "{{ n is defined }} {{ nope is defined }} {{ nope is undefined }} {{ none_value is none }} {{ s is string }} {{ n is number }} {{ n is integer }} {{ f is float }} {{ d is mapping }} {{ xs is iterable }} {{ s is sequence }} {{ true is boolean }} {{ true is true }} {{ 0 is false }} {{ nope is iterable }} {{ d is sequence }} {{ true is integer }} {{ true is number }}",
     "True False True True True True True True True True True True True False True True False True"},
    {"value_tests",
     "{{ 4 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 1 is eq 1 }} {{ 1 is equalto 1 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 3 is gt 2 }} {{ 2 is le 2 }} {{ 2 is ge 3 }} {{ 'a' is in 'abc' }} {{ range is callable }} {{ 'abc' is lower }} {{ 'ABC' is upper }}",
     "True True True False True True True True True True False True True True True"},
    {"negated_tests",
     "{{ n is not none }} {{ nope is not defined }} {{ s is not string }} {{ not nope is defined }} {{ messages[1].tool_calls is defined }} {{ messages[2].tool_calls is not defined }}",
     "True True False True False False"},
};

const RenderCase kMethodsCases[] = {
    {"strip_and_split",
     "[{{ '  a b  '.strip() }}]{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ '  a b  c '.split(none, 1) }}|{{ '  a b  c '.rsplit(none, 1) }}|{{ 'a\\nb\\r\\nc'.splitlines() }}",
     "[a b]a|a|a|['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|['a b', 'c']|['a', 'b  c ']|['  a b', 'c']|['a', 'b', 'c']"},
    {"string_queries",
     "{{ s.startswith('Hell') }} {{ s.endswith(('x', 'ld')) }} {{ s.find('o') }} {{ s.rfind('o') }} {{ s.find('z') }} {{ s.count('l') }} {{ u.find('w') }} {{ s.index('W') }} {{ '12'.isdigit() }} {{ ' '.isspace() }} {{ 'ab'.isalpha() }} {{ 'a1'.isalnum() }} {{ 'ab'.islower() }} {{ 'AB'.isupper() }}",
     "True True 4 7 -1 3 6 6 True True True True True True"},
    {"string_transforms",
     "{{ s.upper() }} {{ s.lower() }} {{ 'hello wORLD 1st'.title() }} {{ 'hELLO'.capitalize() }} {{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 2) }} {{ '-'.join(['a', 'b']) }} {{ 'pre_x'.removeprefix('pre_') }} {{ 'x.py'.removesuffix('.py') }}",
     "HELLO WORLD hello world Hello World 1St Hello HeLLo WorLd HeLLo World a-b x x"},
    {"qwen3_reasoning_split",
     "{% set c = '<think>\\nplan\\n</think>\\n\\nanswer' %}{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
     "answer|plan"},
    {"dict_and_list_methods",
     "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ xs.count(1) }} {{ xs.index(2) }}",
     "2 None 5 ['b', 'a'] [1, 2] [('b', 1), ('a', 2)] 1 2"},
    {"globals",
     "{{ raise_exception is defined }} {{ strftime_now is defined }} {{ namespace is callable }}",
     "True True True"},
};


const nlohmann::ordered_json& Context() {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(kContextJson);
  return context;
}

std::string Render(const std::string& source, const nlohmann::ordered_json& vars = Context()) {
  return Template(source, "t").Render(vars);
}

// The error a template gives, at parse or at render time ("" if it renders).
std::string ErrorOf(const std::string& source, const nlohmann::ordered_json& vars = Context()) {
  try {
    Render(source, vars);
  } catch (const kvlab::Error& e) {
    return e.what();
  }
  return "";
}

template <size_t N>
void ExpectRenders(const RenderCase (&cases)[N]) {
  for (const RenderCase& c : cases) {
    SCOPED_TRACE(c.name);
    try {
      EXPECT_EQ(Render(c.source), c.expected) << "template: " << c.source;
    } catch (const kvlab::Error& e) {
      ADD_FAILURE() << "template: " << c.source << "\nerror: " << e.what();
    }
  }
}

TEST(JinjaWhitespace, TrimAndLstripBlocksAsJinja2) { ExpectRenders(kWhitespaceCases); }
TEST(JinjaPrinting, ValuesPrintAsPython) { ExpectRenders(kPrintingCases); }
TEST(JinjaOperators, PythonSemantics) { ExpectRenders(kOperatorsCases); }
TEST(JinjaStatements, LoopsScopesMacros) { ExpectRenders(kStatementsCases); }
TEST(JinjaFilters, BuiltinFilters) { ExpectRenders(kFiltersCases); }
TEST(JinjaTests, BuiltinTests) { ExpectRenders(kTestsCases); }
TEST(JinjaMethods, PythonMethodsAndGlobals) { ExpectRenders(kMethodsCases); }

TEST(JinjaTemplate, ParsesOnceRendersMany) {
  const Template t("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}{{ add_generation_prompt }}", "t");
  EXPECT_EQ(t.Render({{"messages", {{{"role", "user"}, {"content", "a"}}}}, {"add_generation_prompt", true}}),
            "user:a;True");
  EXPECT_EQ(t.Render({{"messages", nlohmann::ordered_json::array()}, {"add_generation_prompt", false}}), "False");
  EXPECT_EQ(t.name(), "t");
}

TEST(JinjaTemplate, JsonInputKeepsKeyOrder) {
  const auto vars = nlohmann::ordered_json::parse(R"({"x": {"z": 1, "a": {"y": [1, 2.0, null, "é"]}}})");
  EXPECT_EQ(Render("{{ x|tojson }}|{{ x }}|{% for k in x %}{{ k }}{% endfor %}", vars),
            "{\"z\": 1, \"a\": {\"y\": [1, 2.0, null, \"é\"]}}|{'z': 1, 'a': {'y': [1, 2.0, None, 'é']}}|za");
}

TEST(JinjaTemplate, StrftimeNowFormatsTheCurrentTime) {
  const std::string year = Render("{{ strftime_now('%Y') }}");
  EXPECT_TRUE(std::regex_match(year, std::regex("[0-9]{4}"))) << year;
  EXPECT_TRUE(std::regex_match(Render("{{ strftime_now('%d %b %Y') }}"), std::regex("[0-9]{2} [A-Z][a-z]{2} [0-9]{4}")));
}

TEST(JinjaTemplate, VariablesMustBeAnObject) {
  EXPECT_EQ(ErrorOf("x", nlohmann::ordered_json::array()), "t: template variables must be a JSON object");
}

// Each unsupported or wrong construct fails with one line naming the template line and the culprit.
TEST(JinjaErrors, OneLineErrorsNameTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      // parse time
      {"{{ xs|foo }}", "t line 1: unknown filter 'foo'"},
      {"{{ x is foo }}", "t line 1: unknown test 'foo'"},
      {"{% extends 'base.html' %}", "t line 1: '{% extends %}' is not supported"},
      {"{% include 'x' %}", "t line 1: '{% include %}' is not supported"},
      {"{% import 'x' as y %}", "t line 1: '{% import %}' is not supported"},
      {"{% frobnicate %}", "t line 1: unknown tag 'frobnicate'"},
      {"a\n{% if true %}x\n", "t line 2: '{% if %}' on line 2 is never closed (expected '{% endif %}')"},
      {"{% for x in xs %}", "t line 1: '{% for %}' on line 1 is never closed (expected '{% endfor %}')"},
      {"{% endfor %}", "t line 1: unexpected '{% endfor %}'"},
      {"{% if true %}{% endfor %}", "t line 1: unexpected '{% endfor %}'"},
      {"{% else %}", "t line 1: unexpected '{% else %}'"},
      {"{{ 1 + }}", "t line 1: expected an expression, got end of print statement '}}'"},
      {"{{ }}", "t line 1: expected an expression, got end of print statement '}}'"},
      {"{{ (1 }}", "t line 1: unexpected '}', expected ')'"},
      {"{{ 1 ]}}", "t line 1: unexpected ']'"},
      {"{{ 'abc }}", "t line 1: unterminated string literal"},
      {"{# unclosed", "t line 1: missing end of comment tag '#}'"},
      {"{% raw %}never closed", "t line 1: missing '{% endraw %}' for '{% raw %}'"},
      {"{{ x", "t line 1: unexpected end of template, expected '}}'"},
      {"{% break %}", "t line 1: '{% break %}' outside of a for loop"},
      {"{% for x in xs %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}",
       "t line 1: '{% continue %}' outside of a for loop"},
      {"{% for x in xs recursive %}{% endfor %}", "t line 1: recursive for loops are not supported"},
      {"{% set x | upper %}a{% endset %}", "t line 1: filters on a '{% set %}' block are not supported"},
      {"{{ f(*args) }}", "t line 1: *args and **kwargs in calls are not supported"},
      {"{{ xs[1, 2] }}", "t line 1: tuple subscripts are not supported"},
      {"{{ a ! b }}", "t line 1: unexpected character '!' in a tag"},
      {"{{ 99999999999999999999 }}",
       "t line 1: integer literal 99999999999999999999 too large (kvlab's templates use 64-bit integers)"},
      // render time
      {"{{ xs.append(4) }}",
       "t line 1: access to attribute 'append' of 'list' object is unsafe (templates cannot modify values)"},
      {"{{ d.update({}) }}",
       "t line 1: access to attribute 'update' of 'dict' object is unsafe (templates cannot modify values)"},
      {"{{ s.format(1) }}", "t line 1: unsupported method str.format()"},
      {"{{ s.zfill(5) }}", "t line 1: unsupported method str.zfill()"},
      {"{{ '%s' % 1 }}", "t line 1: printf-style string formatting ('...' % value) is not supported"},
      {"{{ nope.attr }}", "t line 1: 'nope' is undefined"},
      {"{{ nope + 1 }}", "t line 1: 'nope' is undefined"},
      {"{{ nope() }}", "t line 1: 'nope' is undefined"},
      {"{{ d.nope.x }}", "t line 1: 'dict object' has no attribute 'nope'"},
      {"line one\nline two {{ nope.x }}", "t line 2: 'nope' is undefined"},
      {"{{ n() }}", "t line 1: 'int' object is not callable"},
      {"{{ 1 / 0 }}", "t line 1: division by zero"},
      {"{{ 1 // 0 }}", "t line 1: integer division or modulo by zero"},
      {"{{ 10 ** 20 }}", "t line 1: integer overflow (templates use 64-bit integers)"},
      {"{{ 'a' + 1 }}", "t line 1: unsupported operand type(s) for +: 'str' and 'int'"},
      {"{{ 'a' < 1 }}", "t line 1: '<' not supported between instances of 'str' and 'int'"},
      {"{{ xs[1:2:0] }}", "t line 1: slice step cannot be zero"},
      {"{{ {1: 2} }}", "t line 1: dict keys must be strings in templates, got int"},
      {"{% set a, b = [1, 2, 3] %}", "t line 1: too many values to unpack (expected 2)"},
      {"{% set n.x = 1 %}", "t line 1: cannot assign attribute on non-namespace object 'n'"},
      {"{{ nope|tojson }}", "t line 1: Object of type Undefined is not JSON serializable"},
      {"{{ 1 in 2 }}", "t line 1: argument of type 'int' is not iterable"},
      {"{{ s.strip(1, 2) }}", "t line 1: str.strip() takes at most 1 argument(s), got 2"},
      {"{{ xs|join(sep=',') }}", "t line 1: join() got an unexpected keyword argument 'sep'"},
      {"{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "t line 1: macro 'm' takes not more than 1 argument(s)"},
      {"{% macro m(a) %}{% endmacro %}{{ m(b=2) }}", "t line 1: macro 'm' has no argument 'b'"},
  };
  for (const auto& [source, expected] : cases) EXPECT_EQ(ErrorOf(source), expected) << "template: " << source;
}

TEST(JinjaErrors, RaiseExceptionCarriesTheMessage) {
  EXPECT_EQ(ErrorOf("a\n{{ raise_exception('Conversation roles must alternate') }}"),
            "t line 2: Conversation roles must alternate");
  // Newlines in the message cannot break the one-line rule.
  EXPECT_EQ(ErrorOf("{{ raise_exception('two\\nlines') }}"), "t line 1: two lines");
}

// Hostile templates end in an error naming the bound they hit, quickly, never a crash or a hang.
TEST(JinjaLimits, RunawayTemplatesFailWithAOneLineError) {
  const std::pair<std::string, std::string> cases[] = {
      {"{{ range(1000000)|length }}", "range too big: the sandbox allows at most 100000 items"},
      {"{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "needs too much work"},
      {"{% for a in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "rendered text longer than 16777216 bytes"},
      {"{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
       "longer than 16777216 bytes"},
      {"{{ 'x' * 100000000 }}", "string repetition longer than 16777216 bytes"},
      {"{{ [1] * 100000000 }}", "list repetition longer than 1048576 items"},
      {"{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "macro calls nested more than 64 deep"},
      {"{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}", "nested more than 200"},
      {"{{ 1" + [] { std::string s; for (int i = 0; i < 5000; ++i) s += " + 1"; return s; }() + " }}",
       "expression nested more than 200 levels deep"},
      {[] { std::string s; for (int i = 0; i < 300; ++i) s += "{% if true %}"; return s; }(), "nested more than 200"},
      {"{% set ns = namespace(x=[]) %}{% for i in range(300) %}{% set ns.x = [ns.x] %}{% endfor %}",
       "values nested more than 200 deep"},
      {"{% set ns = namespace(a=1) %}{% set ns.self = [ns] %}", "a namespace attribute cannot hold a namespace"},
  };
  for (const auto& [source, expected] : cases) {
    const std::string error = ErrorOf(source);
    EXPECT_NE(error.find(expected), std::string::npos) << "template: " << source.substr(0, 80) << "\nerror: " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace kvlab::jinja
