// Times a server-initiated close (4001 from the actor's alarm) as a `ws` client sees it:
// the close frame (receiver "conclude") and the close event. Usage, with the repro running:
//   node client.mjs [nohandler|send|noargs] [idle|send]
import WebSocket from "ws";

const mode = process.argv[2] ?? "nohandler";
const sendFirst = process.argv[3] === "send";
const started = Date.now();
let frameAt;
const ws = new WebSocket(
  `ws://127.0.0.1:18933/room-${Math.random()}?mode=${mode}&victim=1&code=4001&delay=500`,
);
ws.on("open", () => {
  if (sendFirst) ws.send("hello");
  ws._receiver.on("conclude", () => {
    frameAt = Date.now() - started;
  });
});
ws.on("close", (code) => {
  const client = sendFirst ? "sent one frame" : "idle";
  console.log(
    `${mode}, ${client}: code ${code}, close frame at ${frameAt} ms, close event at ${Date.now() - started} ms`,
  );
});
