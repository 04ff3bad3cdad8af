export { OpenAIFrontEnd, createOpenAIServer, type OpenAIOptions } from "./server.js";
