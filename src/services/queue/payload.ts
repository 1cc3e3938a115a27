/** The payload rule (as mikcar): a body that parses as JSON is kept as that JSON text, exactly as sent. */
const lossy = new TextDecoder("utf-8");

/** JSON text for a message body: the body itself when it is JSON, else `{"data":"<text>"}`. */
export function payloadJson(body: Uint8Array): string {
  const text = lossy.decode(body);
  if (text.trim() !== "") {
    try {
      JSON.parse(text); // only validates; the text is kept so large integers and number spelling survive
      return text;
    } catch {
      // not JSON: wrapped below
    }
  }
  return JSON.stringify({ data: text });
}
