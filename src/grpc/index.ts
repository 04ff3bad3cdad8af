export { GrpcFrontEnd, SERVICE_NAME, HEALTH_SERVICE_NAME } from "./server.js";
export { protoIncludeDirs } from "./proto.js";
