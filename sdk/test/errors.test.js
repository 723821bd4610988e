import { test } from 'node:test'
import assert from 'node:assert/strict'
import { categorize, createStorm, describe, errorKind, frameText, trapKind, wasmFrames } from '../src/errors.js'

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

test('wasm frames are parsed from Chromium and Firefox stacks, innermost first', () => {
  const chromium = [
    'RuntimeError: divide by zero',
    '    at demo.wasm.divide (wasm://wasm/abcd1234:wasm-function[3]:0x5c)',
    '    at wasm://wasm/abcd1234:wasm-function[12]:0x1a2f',
    '    at divide (http://127.0.0.1:8000/demo.wasm:wasm-function[4]:0x113)',
    '    at Object.call (http://127.0.0.1:8000/app.js:38:48)',
  ].join('\n')
  assert.deepEqual(wasmFrames(chromium), [
    { fn: 'demo.wasm.divide', index: 3, offset: 0x5c },
    { fn: undefined, index: 12, offset: 0x1a2f },
    { fn: 'divide', index: 4, offset: 0x113 },
  ])
  const firefox = [
    'divide@http://localhost/demo.wasm:wasm-function[3]:0x5c',
    '@http://localhost/demo.wasm:wasm-function[7]:0x80',
    'wasm-function[9]@http://localhost/app.js line 2 > WebAssembly.instantiate:wasm-function[9]:0x99',
    'call@http://localhost/app.js:10:5',
  ].join('\n')
  assert.deepEqual(wasmFrames(firefox), [
    { fn: 'divide', index: 3, offset: 0x5c },
    { fn: undefined, index: 7, offset: 0x80 },
    { fn: undefined, index: 9, offset: 0x99 },
  ])
  assert.deepEqual(wasmFrames('Error: x\n    at f (app.js:1:2)\ndivide@[wasm code]'), [])
  assert.deepEqual(wasmFrames(undefined), [])
})

// Stacks as the engines print them (Firefox ESR 153, WebKitGTK 2.50, Chromium 14x), for a trap
// in fail_deeper (function 5) called from crash (function 4) called from page JS.
test('each engine\'s real stack gives the same frames (WebKit: no offsets)', () => {
  const firefox = 'fail_deeper@http://127.0.0.1:8000/demo.wasm:wasm-function[5]:0x11c\n' +
    'crash@http://127.0.0.1:8000/demo.wasm:wasm-function[4]:0x117\n' +
    '@http://127.0.0.1:8000/harness.html line 2 > eval:1:23\n@http://127.0.0.1:8000/harness.html:3:44\n'
  const chromium = 'RuntimeError: unreachable\n' +
    '    at fail_deeper (http://127.0.0.1:8000/demo.wasm:wasm-function[5]:0x11c)\n' +
    '    at crash (http://127.0.0.1:8000/demo.wasm:wasm-function[4]:0x117)\n' +
    '    at eval (eval at <anonymous> (http://127.0.0.1:8000/harness.html:1:1), <anonymous>:1:23)'
  const webkit = 'fail_deeper@<?>:wasm-function[5]\ncrash@<?>:wasm-function[4]\n@\n@\n' +
    'Promise@[native code]\nevaluateJavaScriptFunction@'
  const full = [{ fn: 'fail_deeper', index: 5, offset: 0x11c }, { fn: 'crash', index: 4, offset: 0x117 }]
  assert.deepEqual(wasmFrames(firefox), full)
  assert.deepEqual(wasmFrames(chromium), full)
  assert.deepEqual(wasmFrames(webkit), full.map(f => ({ ...f, offset: undefined })))
  // A module without a name section: WebKit prints the index where the name would be.
  assert.deepEqual(wasmFrames('0@<?>:wasm-function[0]\n12@<?>:wasm-function[12]\nmain@http://h/app.js:3:9'),
    [{ fn: undefined, index: 0, offset: undefined }, { fn: undefined, index: 12, offset: undefined }])
  // Firefox names a module compiled from bytes after the call that compiled it.
  assert.deepEqual(wasmFrames('@http://h/app.js line 2 > WebAssembly.instantiate:wasm-function[2]:0x4f'),
    [{ fn: undefined, index: 2, offset: 0x4f }])
})

test('a frame prints as the server stores it: "name wasm-function[i]:0xoff"', () => {
  assert.equal(frameText({ fn: 'divide', index: 3, offset: 0x113 }), 'divide wasm-function[3]:0x113')
  assert.equal(frameText({ index: 12, offset: 0x1a2f }), 'wasm-function[12]:0x1a2f')
  assert.equal(frameText({ fn: 'divide', index: 3 }), 'divide wasm-function[3]', 'WebKit: no offset')
  assert.equal(frameText({ index: 0, offset: 0 }), 'wasm-function[0]:0x0')
  assert.equal(frameText(undefined), undefined)
})

test('describe turns any thrown value into kind, category, message, stack and top frame', () => {
  const e = new Error('divide by zero')
  e.name = 'RuntimeError'
  e.stack = 'RuntimeError: divide by zero\n    at divide (http://h/demo.wasm:wasm-function[3]:0x113)'
  assert.deepEqual(describe(e), { kind: 'divide_by_zero', category: 'runtime', message: 'divide by zero',
    stack: e.stack, frame: 'divide wasm-function[3]:0x113' })
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
