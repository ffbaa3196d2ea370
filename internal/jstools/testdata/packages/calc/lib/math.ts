// Arithmetic of the calc tool, imported by tool.ts with a NodeNext-style ".js" specifier.

export type Operation = "add" | "mul";

const symbols: Record<Operation, string> = { add: "+", mul: "×" };

export function compute(op: Operation, a: number, b: number): number {
  switch (op) {
    case "add":
      return a + b;
    case "mul":
      return a * b;
  }
}

export function describe<T extends Operation>(op: T): string {
  return symbols[op];
}
