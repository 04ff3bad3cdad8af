import { TritonError } from "./errors.js";

/** request.ts's ParamValue, spelled out here so that the two modules do not import each other. */
type ParamValue = string | number | boolean;

/**
 * pb_stub.cc's PyParametersToJSON, for InferenceResponse and (BLS) InferenceRequest parameters:
 * keys are strings, values bool/int/str, checked when the object is constructed so that a bad
 * value never leaves the stub half-built. The texts are Triton's; the type named after "found
 * type" is Python's spelling of the JavaScript value's twin (a fractional number or NaN is
 * <class 'float'>, null <class 'NoneType'>, an array <class 'list'>, a plain object
 * <class 'dict'>), else the JavaScript type or class name in the same form (<class 'bigint'>,
 * <class 'undefined'>, <class 'Map'>). Returns a copy, so later changes to the caller's object
 * do not reach the response.
 */
export function checkedParameters(parameters: unknown): Record<string, ParamValue> {
  if (parameters === undefined || parameters === null) return {};
  const out: Record<string, ParamValue> = {};
  if (typeof parameters !== "object") return out;
  for (const key of Object.getOwnPropertySymbols(parameters)) {
    throw new TritonError(`Expect parameters keys to have type str, found type ${pythonType(key)}`, TritonError.INVALID_ARG);
  }
  for (const [key, value] of Object.entries(parameters)) {
    const ok = typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isInteger(value));
    if (!ok) {
      throw new TritonError(`Expect parameters values to have type bool/int/str, found type ${pythonType(value)}`, TritonError.INVALID_ARG);
    }
    out[key] = value as ParamValue;
  }
  return out;
}

/** str(type(value)) of the value's Python twin (see checkedParameters). */
function pythonType(value: unknown): string {
  let name: string;
  if (value === null) name = "NoneType";
  else if (typeof value === "number") name = Number.isInteger(value) ? "int" : "float";
  else if (typeof value === "string") name = "str";
  else if (typeof value === "boolean") name = "bool";
  else if (Array.isArray(value)) name = "list";
  else if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    name = proto === Object.prototype || proto === null ? "dict" : (proto.constructor?.name || "object");
  } else name = typeof value;
  return `<class '${name}'>`;
}
