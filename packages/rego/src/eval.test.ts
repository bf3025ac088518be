import { describe, expect, it } from 'vitest';
import { RegoError } from './errors.js';
import { RegoEngine } from './eval.js';
import { parseModule } from './parser.js';
import { toJson } from './value.js';

function run(src: string, rule: string, input?: unknown, data?: unknown): unknown {
  const e = new RegoEngine();
  e.addPolicy('p', `package t\n${src}`);
  if (data !== undefined) e.setData(data as never);
  e.setInput(input as never);
  const v = e.evalRule(`data.t.${rule}`).value;
  return v === undefined ? undefined : toJson(v);
}

describe('rego parser', () => {
  it('parses package, imports, defaults, functions, else chains', () => {
    const m = parseModule(`package agent_policy
import future.keywords.in
import future.keywords.if
default A := false
A if { true }
f(x) := y if { y := x + 1 } else := 0
s contains x if { some x in [1, 2] }
`);
    expect(m.pkg).toEqual(['agent_policy']);
    expect(m.rules.map((r) => [r.name, r.kind, r.isDefault])).toEqual([
      ['A', 'complete', true],
      ['A', 'complete', false],
      ['f', 'function', false],
      ['s', 'set', false],
    ]);
    expect(m.rules[2]?.elseRule).toBeDefined();
  });

  it('reports the line of a syntax error', () => {
    expect(() => parseModule('package x\nr if {\n  a := \n}')).toThrow(RegoError);
    // Fails when nothing is thrown, and checks the kind (a bare try/catch passed either way).
    expect(() => parseModule('package x\n\nr := [1, 2')).toThrow(expect.objectContaining({ kind: 'parse' }));
  });
});

describe('rego evaluation', () => {
  it('default rules apply only when no body succeeds', () => {
    const src = 'default allow := false\nallow if { input.x == 1 }';
    expect(run(src, 'allow', { x: 1 })).toBe(true);
    expect(run(src, 'allow', { x: 2 })).toBe(false);
    expect(run(src, 'allow', {})).toBe(false); // undefined field -> body fails
  });

  it('undefined without a default', () => {
    expect(run('allow if { input.x == 1 }', 'allow', { x: 2 })).toBeUndefined();
  });

  it('multiple definitions are ORed; conflicting complete values are an error', () => {
    const src = 'r := 1 if { input.a }\nr := 1 if { input.b }';
    expect(run(src, 'r', { a: true, b: true })).toBe(1);
    const bad = 'r := 1 if { input.a }\nr := 2 if { input.b }';
    expect(() => run(bad, 'r', { a: true, b: true })).toThrow(/conflicting/);
    expect(run(bad, 'r', { a: true, b: false })).toBe(1);
  });

  it('functions with several definitions, patterns and else', () => {
    const src = `
f(x) := "one" if { x == 1 }
f(x) := "two" if { x == 2 }
g(x) := "small" if { x < 10 } else := "big"
h([a, b]) := a + b
`;
    expect(run(`${src}\nr := f(2)`, 'r')).toBe('two');
    expect(run(`${src}\nr := f(3)`, 'r')).toBeUndefined();
    expect(run(`${src}\nr := [g(1), g(11)]`, 'r')).toEqual(['small', 'big']);
    expect(run(`${src}\nr := h([3, 4])`, 'r')).toBe(7);
    expect(() => run('f(x) := 1 if { true }\nf(x) := 2 if { true }\nr := f(0)', 'r')).toThrow(/conflicting/);
  });

  it('some/in, some with index vars, every, not', () => {
    const input = { xs: [1, 2, 3], o: { a: 1, b: 2 } };
    expect(run('r if { some x in input.xs; x == 2 }', 'r', input)).toBe(true);
    expect(run('r if { some k, v in input.o; k == "b"; v == 2 }', 'r', input)).toBe(true);
    expect(run('r if { some i; input.xs[i] == 3; i == 2 }', 'r', input)).toBe(true);
    expect(run('r if { input.xs[_] == 4 }', 'r', input)).toBeUndefined();
    expect(run('r if { every x in input.xs { x > 0 } }', 'r', input)).toBe(true);
    expect(run('r if { every x in input.xs { x > 1 } }', 'r', input)).toBeUndefined();
    expect(run('r if { every x in [] { false } }', 'r', input)).toBe(true);
    expect(run('r if { not input.missing }', 'r', input)).toBe(true);
    expect(run('r if { not input.xs }', 'r', input)).toBeUndefined();
    expect(run('r if { 2 in input.xs; not 5 in input.xs }', 'r', input)).toBe(true);
  });

  it('comprehensions, partial sets and objects, set algebra', () => {
    const input = { xs: [1, 2, 3, 2] };
    expect(run('r := [x * 2 | some x in input.xs; x > 1]', 'r', input)).toEqual([4, 6, 4]);
    expect(run('r := {x | some x in input.xs}', 'r', input)).toEqual([1, 2, 3]);
    expect(run('r := {k: v | some k, v in {"a": 1}}', 'r', input)).toEqual({ a: 1 });
    expect(run('s contains x if { some x in input.xs; x > 1 }\nr := count(s)', 'r', input)).toBe(2);
    expect(run('o[k] := v if { some k, v in {"a": 1, "b": 2} }\nr := o.b', 'r', input)).toBe(2);
    expect(run('r := ({1, 2} | {3}) - {1}', 'r', input)).toEqual([2, 3]);
    expect(run('r if { {1, 2} == {2, 1} }', 'r', input)).toBe(true);
    expect(run('r if { {"a": [1]} == {"a": [1]} }', 'r', input)).toBe(true);
  });

  it('unification binds through arrays and checks equality', () => {
    expect(run('r := x if { [x, 2] = [1, 2] }', 'r')).toBe(1);
    expect(run('r := x if { [x, 3] = [1, 2] }', 'r')).toBeUndefined();
    expect(run('r := y if { y = 5 }', 'r')).toBe(5);
  });

  it('data refs: package rules and the data document', () => {
    expect(run('a := 3\nr := data.t.a + data.pstate.n', 'r', {}, { pstate: { n: 4 } })).toBe(7);
  });

  it('builtins our rules use', () => {
    const r = (expr: string): unknown => run(`r := ${expr}`, 'r');
    expect(r('count("héllo")')).toBe(5);
    expect(r('concat(",", ["a", "b"])')).toBe('a,b');
    expect(r('split("a/b", "/")')).toEqual(['a', 'b']);
    expect(r('replace("a-b-c", "-", "+")')).toBe('a+b+c');
    expect(r('regex.match("^a[0-9]{2}$", "a12")')).toBe(true);
    expect(r('regex.match("b", "abc")')).toBe(true); // unanchored
    expect(r('startswith("abc", "ab")')).toBe(true);
    expect(r('endswith("abc", "bc")')).toBe(true);
    expect(r('sprintf("%s=%d %v", ["x", 3, [1]])')).toBe('x=3 [1]');
    expect(r('to_number("42")')).toBe(42);
    expect(r('object.get({"a": 1}, "b", 9)')).toBe(9);
    expect(r('object.get({"a": {"b": 2}}, ["a", "b"], 9)')).toBe(2);
    expect(r('json.unmarshal("{\\"a\\": [1]}")')).toEqual({ a: [1] });
    expect(r('base64.decode("aGk=")')).toBe('hi');
    expect(r('base64url.encode("??>")')).toBe('Pz8-');
    expect(r('trim_prefix("abc", "a")')).toBe('bc');
    expect(r('substring("abcdef", 1, 3)')).toBe('bcd');
    expect(r('bits.and(6, 3)')).toBe(2);
    expect(r('bits.or(4, 1)')).toBe(5);
    expect(r('array.concat([1], [2])')).toEqual([1, 2]);
    expect(r('array.slice([1, 2, 3], 1, 5)')).toEqual([2, 3]);
    expect(r('regex.find_all_string_submatch_n("^([^@]+)(@.+)?$", "a@sha256:x", 1)')).toEqual([
      ['a@sha256:x', 'a', '@sha256:x'],
    ]);
    expect(r('is_null(null)')).toBe(true);
    expect(r('lower("AbC")')).toBe('abc');
  });

  it('builtin errors make the expression undefined (strict errors off)', () => {
    expect(run('r if { to_number("x") }', 'r')).toBeUndefined();
    expect(run('default r := false\nr if { count(5) > 0 }', 'r')).toBe(false);
  });

  it('RE2 only: lookarounds are rejected (undefined), not silently accepted', () => {
    expect(run('default r := false\nr if { regex.match("a(?=b)", "ab") }', 'r')).toBe(false);
  });

  it('unbound variables are a typed error', () => {
    expect(() => run('r if { x == 1 }', 'r')).toThrow(RegoError);
  });

  it('print output is gathered', () => {
    const e = new RegoEngine();
    e.addPolicy('p', 'package t\nr if { print("hello", 1) }');
    expect(e.evalRule('data.t.r').prints).toEqual(['hello 1']);
  });

  it('reports the deepest failing comparison with its operands', () => {
    const e = new RegoEngine();
    e.addPolicy(
      'p',
      'package t\ndefault r := false\nr if { check(input.args) }\ncheck(a) if {\n  count(a) == 1\n  a[0] == "nginx"\n}',
    );
    e.setInput({ args: ['sh'] });
    const res = e.evalRule('data.t.r');
    expect(res.value).toBe(false);
    expect(res.failure?.stack).toEqual(['r', 'check']);
    expect(res.failure?.text).toBe('a[0] == "nginx"');
    expect(res.failure?.left).toBe('"sh"');
    expect(res.failure?.right).toBe('"nginx"');
    expect(res.failure?.loc.line).toBe(6);
  });
});
