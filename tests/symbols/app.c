// A small module for the symbolication tests, built by tests/symbols/build.py with clang's
// wasm32 target: a call chain that ends in a trap, with a name section and DWARF (-g).
#ifdef SHIFTED
__attribute__((export_name("extra"))) int extra(int x) { return x * 3; }
#endif

__attribute__((noinline)) static int check(int *slot) {
  if (*slot > 3) {
    __builtin_trap(); // TRAP LINE
  }
  return *slot + 1;
}

__attribute__((noinline)) static int step(int n) {
  static int slot;
  slot = n;
  return check(&slot) * 2; // CALL LINE
}

__attribute__((export_name("run"))) int run(int n) { return step(n); }

__attribute__((export_name("divide"))) int divide(int a, int b) { return a / b; }
