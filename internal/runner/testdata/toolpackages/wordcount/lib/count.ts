// Word counting, imported by tool.ts with a NodeNext-style ".js" specifier.

export function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => word.length > 0).length;
}
