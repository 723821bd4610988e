import { test } from 'node:test'
import assert from 'node:assert/strict'
import { categorize, createStorm, describe, errorKind, stormKey, trapKind } from '../src/errors.js'

test('trap messages of V8, SpiderMonkey and JSC map to one kind each', () => {
  const cases = {
    unreachable: ['unreachable', 'unreachable executed', 'Unreachable code should not be executed'],
    divide_by_zero: ['divide by zero', 'remainder by zero', 'integer divide by zero', 'Division by zero'],
    integer_overflow: ['divide result unrepresentable', 'integer overflow', 'Integer overflow'],
    invalid_conversion: ['float unrepresentable in integer range', 'invalid conversion to integer',
      'Out of bounds Trunc operation'],
    memory_out_of_bounds: ['memory access out of bounds', 'index out of bounds', 'Out of bounds memory access'],
    table_out_of_bounds: ['table index is out of bounds'],
    indirect_call_mismatch: ['null function or function signature mismatch', 'indirect call signature mismatch',
      'call_indirect to a signature that does not match', 'indirect call to null'],
    stack_overflow: ['Maximum call stack size exceeded', 'too much recursion'],
    unaligned_access: ['operation does not support unaligned accesses'],
    null_dereference: ['dereferencing a null pointer'],
    out_of_memory: ['out of memory', 'Array buffer allocation failed', 'WebAssembly.Memory(): could not allocate memory'],
  }
  for (const [kind, messages] of Object.entries(cases)) {
    for (const message of messages) assert.equal(trapKind(message), kind, message)
  }
  assert.equal(trapKind('something else entirely'), undefined)
})

test("WebKit's trap messages carry the calling source, which never decides the kind", () => {
  assert.equal(trapKind("Out of bounds memory access (evaluating 'callFunction(x)')"), 'memory_out_of_bounds')
  assert.equal(trapKind("Division by zero (evaluating 'raw[a[0]](...a[1])')"), 'divide_by_zero')
  assert.equal(errorKind('RuntimeError', "Unreachable code should not be executed (evaluating 'f()')"),
    'unreachable')
  assert.equal(trapKind("Maximum call stack size exceeded. (evaluating 'table.get(0)')"), 'stack_overflow')
})

test('kind is the trap kind for traps and runtime faults, else the JS error name', () => {
  assert.equal(errorKind('RuntimeError', 'divide by zero'), 'divide_by_zero')
  assert.equal(errorKind('RuntimeError', 'illegal cast'), 'RuntimeError')
  assert.equal(errorKind('RangeError', 'Maximum call stack size exceeded'), 'stack_overflow')
  assert.equal(errorKind('InternalError', 'too much recursion'), 'stack_overflow')
  assert.equal(errorKind('RangeError', 'Array buffer allocation failed'), 'out_of_memory')
  // Words that only look like trap messages do not turn JS errors into traps.
  assert.equal(errorKind('TypeError', "Cannot read properties of undefined (reading 'stack')"), 'TypeError')
  assert.equal(errorKind('TypeError', 'f is not a function'), 'TypeError')
  assert.equal(errorKind('CompileError', 'expected magic word'), 'CompileError')
  assert.equal(errorKind('', 'no name'), 'Error')
})

test('categories: critical for memory, SharedArrayBuffer, compile and link; runtime for traps', () => {
  const cat = (name, message) => categorize(name, errorKind(name, message), message)
  assert.equal(cat('RangeError', 'WebAssembly.Memory(): could not allocate memory'), 'critical')
  assert.equal(cat('Error', 'OutOfMemory in process heap'), 'critical', 'the seed\'s wording')
  assert.equal(cat('Error', 'runtime ran out of memory'), 'critical')
  assert.equal(cat('TypeError', 'SharedArrayBuffer is not defined'), 'critical')
  assert.equal(cat('CompileError', 'WebAssembly.instantiate(): expected magic word'), 'critical')
  assert.equal(cat('LinkError', 'WebAssembly.instantiate(): Import #0 "env": module is not an object'), 'critical')
  assert.equal(cat('RuntimeError', 'unreachable'), 'runtime')
  assert.equal(cat('RuntimeError', 'illegal cast'), 'runtime')
  assert.equal(cat('RangeError', 'Maximum call stack size exceeded'), 'runtime')
  assert.equal(cat('Error', 'AtomVM process crashed'), 'runtime')
  assert.equal(cat('Error', 'WASM bridge closed'), 'runtime')
  assert.equal(cat('TypeError', 'x is undefined'), 'application')
})

test('describe turns any thrown value into kind, category, message and stack', () => {
  const e = new Error('divide by zero')
  e.name = 'RuntimeError'
  e.stack = 'RuntimeError: divide by zero\n    at divide (http://h/demo.wasm:wasm-function[3]:0x113)'
  assert.deepEqual(describe(e), { kind: 'divide_by_zero', category: 'runtime', message: 'divide by zero',
    stack: e.stack })
  assert.equal(describe('plain string', 'UnhandledRejection').kind, 'UnhandledRejection')
  assert.equal(describe('plain string').message, 'plain string')
  assert.equal(describe(null).kind, 'Error')
  assert.equal(describe({ message: 'seed detail', stack: 'x' }).kind, 'Error')
  const long = describe(new Error('m'.repeat(5000)))
  assert.equal(long.message.length, 2048)
  const deep = new Error('x')
  deep.stack = 's'.repeat(20000)
  assert.equal(describe(deep).stack.length, 16384)
})

test('an error storm is capped per fingerprint and overall, per window', () => {
  const allow = createStorm(2, 3, 1000)
  assert.deepEqual([allow('a', 0), allow('a', 1), allow('a', 2)], [true, true, false])
  assert.deepEqual([allow('b', 3), allow('c', 4)], [true, false])
  assert.equal(allow('a', 1000), true, 'a new window starts afresh')
})

test('the storm key tells errors apart by kind, message and top wasm function, not byte offset', () => {
  const at = (index, offset) => describe(Object.assign(new Error('unreachable'), { name: 'RuntimeError',
    stack: `RuntimeError: unreachable\n    at f (http://h/m.wasm:wasm-function[${index}]:0x${offset})\n` +
      '    at g (http://h/m.wasm:wasm-function[1]:0x10)' }))
  assert.equal(stormKey(at(5, '11c')), stormKey(at(5, '2a0')))
  assert.notEqual(stormKey(at(5, '11c')), stormKey(at(6, '11c')))
  assert.equal(stormKey(describe(new TypeError('x'))), 'TypeErrorx', 'no wasm frame: kind and message')
  assert.equal(stormKey(describe('plain')), 'Errorplain', 'no stack at all')
})
