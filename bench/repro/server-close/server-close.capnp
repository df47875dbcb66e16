using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "disk", disk = (path = "/tmp/server-close-repro", writable = true)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:18933", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ["web_socket_auto_reply_to_close"],
  durableObjectNamespaces = [
    (className = "NoHandler", uniqueKey = "a-key", enableSql = true),
    (className = "SendInClose", uniqueKey = "b-key", enableSql = true),
    (className = "CloseNoArgs", uniqueKey = "c-key", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "disk"),
  bindings = [
    (name = "A", durableObjectNamespace = "NoHandler"),
    (name = "B", durableObjectNamespace = "SendInClose"),
    (name = "C", durableObjectNamespace = "CloseNoArgs"),
  ],
);
