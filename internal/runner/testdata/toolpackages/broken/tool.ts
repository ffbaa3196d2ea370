// A package whose factory throws: it is reported and the run goes on without it.
export default function broken(): void {
  throw new Error("this package is broken on purpose");
}
