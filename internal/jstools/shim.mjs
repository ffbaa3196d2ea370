// Stand-in for the modules upstream tool bundles keep external (@mariozechner/pi-ai, @mariozechner/pi-coding-agent)
// and for TypeBox (@sinclair/typebox, typebox), which tools use to write their parameter schemas. The host has
// no node_modules: this module gives the part of those APIs a tool needs at run time — a TypeBox-compatible
// `Type` builder producing plain JSON Schema, and pi-ai's `StringEnum`. Types are erased by the bundler.

const OPTIONAL = Symbol.for("TypeBox.Optional");
const READONLY = Symbol.for("TypeBox.Readonly");

function withOptions(schema, options) {
  return { ...(options ?? {}), ...schema };
}

function isOptional(schema) {
  return schema !== null && typeof schema === "object" && schema[OPTIONAL] === "Optional";
}

export const Type = {
  String: (options) => withOptions({ type: "string" }, options),
  Number: (options) => withOptions({ type: "number" }, options),
  Integer: (options) => withOptions({ type: "integer" }, options),
  Boolean: (options) => withOptions({ type: "boolean" }, options),
  Null: (options) => withOptions({ type: "null" }, options),
  Any: (options) => withOptions({}, options),
  Unknown: (options) => withOptions({}, options),
  Literal: (value, options) => withOptions({ const: value, type: typeof value }, options),
  Array: (items, options) => withOptions({ type: "array", items }, options),
  Tuple: (items, options) =>
    withOptions({ type: "array", items, additionalItems: false, minItems: items.length, maxItems: items.length }, options),
  Union: (anyOf, options) => withOptions({ anyOf }, options),
  Intersect: (allOf, options) => withOptions({ allOf }, options),
  Enum: (object, options) => withOptions({ anyOf: Object.values(object).map((value) => ({ const: value })) }, options),
  Record: (_key, value, options) => withOptions({ type: "object", additionalProperties: value }, options),
  Object: (properties, options) => {
    const required = Object.keys(properties).filter((key) => !isOptional(properties[key]));
    const schema = { type: "object", properties };
    if (required.length > 0) schema.required = required;
    return withOptions(schema, options);
  },
  Optional: (schema) => ({ ...schema, [OPTIONAL]: "Optional" }),
  Readonly: (schema) => ({ ...schema, [READONLY]: "Readonly" }),
  Ref: (ref, options) => withOptions({ $ref: typeof ref === "string" ? ref : ref.$id }, options),
  Unsafe: (options) => ({ ...(options ?? {}) }),
};

// pi-ai's enum helper: a string schema listing the allowed values (what providers accept best).
export function StringEnum(values, options) {
  return withOptions({ type: "string", enum: [...values] }, options);
}

export default { Type, StringEnum };
