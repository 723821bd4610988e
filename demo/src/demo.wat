;; The demo's WebAssembly module: a few small functions with realistic costs, and a few that
;; fail the ways real modules fail (traps, a memory that grows). Built to demo.wasm by
;; build.mjs with wabt, keeping the name section so stack traces show function names.
(module
  (type $unary (func (param i32) (result i32)))
  (type $nullary (func (result i32)))

  (memory (export "memory") 1 256)
  (table 2 funcref)
  (elem (i32.const 0) $fib $pages)

  ;; add(a, b) = a + b
  (func $add (export "add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b)))

  ;; fib(n): the naive recursion, so cost grows quickly with n (fib(27) takes some ms).
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_s (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add
        (call $fib (i32.sub (local.get $n) (i32.const 1)))
        (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; work(n): a loop-heavy kernel; writes and reads linear memory, returns a checksum.
  (func $work (export "work") (param $n i32) (result i32)
    (local $i i32) (local $acc i32) (local $addr i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $addr (i32.and (i32.shl (local.get $i) (i32.const 2)) (i32.const 0xfffc)))
        (i32.store (local.get $addr)
          (i32.add (i32.mul (local.get $i) (i32.const 2654435761)) (local.get $acc)))
        (local.set $acc (i32.xor
          (i32.rotl (local.get $acc) (i32.const 5))
          (i32.load (local.get $addr))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  ;; divide(a, b) = a / b: traps with "divide by zero" when b is 0.
  (func $divide (export "divide") (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))

  ;; crash(): hits `unreachable`, the way a Rust panic or a C abort() ends.
  (func $crash (export "crash")
    (call $fail_deeper))
  (func $fail_deeper
    unreachable)

  ;; peek(addr): reads memory; traps with an out-of-bounds access past the memory's end.
  (func $peek (export "peek") (param $addr i32) (result i32)
    (i32.load (local.get $addr)))

  ;; recurse(n): never stops; overflows the stack.
  (func $recurse (export "recurse") (param $n i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  ;; bad_call(): calls table slot 1 ($pages, no params) through the (i32) -> i32 signature.
  (func $bad_call (export "bad_call") (result i32)
    (call_indirect (type $unary) (i32.const 7) (i32.const 1)))

  ;; grow(pages): grows memory by that many 64 KiB pages; returns the old size or -1.
  (func $grow (export "grow") (param $delta i32) (result i32)
    (memory.grow (local.get $delta)))

  ;; pages(): current memory size in pages.
  (func $pages (export "pages") (type $nullary)
    (memory.size))
)
