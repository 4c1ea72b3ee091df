// The parts of TipTap that feedsvc's article editor uses, bundled into one file that sets
// window.Tiptap (see feedsvc/web/static/vendor/tiptap/README.md and `make vendor-editor`).
export { Editor, Node, mergeAttributes } from "@tiptap/core";
export { StarterKit } from "@tiptap/starter-kit";
export { Table, TableCell, TableHeader, TableRow } from "@tiptap/extension-table";
