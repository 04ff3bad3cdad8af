// The baseline of the http benchmark: a bare node:http server that reads the body and answers
// with a fixed JSON body of the same size as tessera's add_sub response.
import http from "node:http";

const body = Buffer.from(process.argv[2]);
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
