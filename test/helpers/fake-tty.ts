// Preload for CLI children: stderr claims to be a terminal, so progress spinners really animate (on a pipe
// they draw nothing and hold no timer). A spinner left running then keeps the process alive: tests see it.
Object.assign(process.stderr, {
  isTTY: true,
  columns: 80,
  cursorTo: () => true,
  moveCursor: () => true,
  clearLine: () => true,
  getColorDepth: () => 1,
  hasColors: () => false,
});
