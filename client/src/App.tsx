// Placeholder shell: the web client is a later issue. The API and socket protocol are in docs/protocol.md.
export function App() {
  return (
    <main
      style={{ fontFamily: "system-ui, sans-serif", maxWidth: 640, margin: "4rem auto", lineHeight: 1.5 }}
    >
      <h1>Backchannel</h1>
      <p>
        Confidential settlement numbers, matched by published rules. The server is running; the web client is
        not built yet. Use the API described in <code>docs/protocol.md</code>.
      </p>
    </main>
  );
}
