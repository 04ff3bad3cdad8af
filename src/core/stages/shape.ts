/** The response as the client asked for it: the requested outputs, classified where asked. */
import type { Exchange, Stage } from "../exchange.js";
import { shapeResponse } from "../shape-response.js";
import type { CoreResponse } from "../types.js";

export const shape: Stage = {
  onResponse(ex: Exchange, response: CoreResponse): CoreResponse {
    return shapeResponse(ex.request, ex.target!, response);
  },
};
