import "@shopify/ui-extensions/preact";
import { render } from "preact";
import { Optin } from "./optin";

export default function extension() {
  render(<Optin api={shopify} />, document.body);
}
