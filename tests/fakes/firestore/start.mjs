// Serve @firestore-emulator/server's Firestore gRPC API on 127.0.0.1 only (its own start()
// binds 0.0.0.0). Usage: node start.mjs PORT. Prints "ready PORT" once listening; exits on
// SIGTERM/SIGINT or when stdin closes, so a test runner that dies does not leave it behind.
import { ServerCredentials } from "@grpc/grpc-js";
import { FirestoreServer } from "@firestore-emulator/server";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node start.mjs PORT");
  process.exit(2);
}
const firestore = new FirestoreServer();
// `server` is TypeScript-private only; it already has the Firestore service registered.
const grpcServer = firestore.server;
grpcServer.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    console.error(`cannot bind 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  }
  console.log(`ready ${bound}`);
});
const stop = () => {
  firestore.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
