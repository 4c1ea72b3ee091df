// The article editor of the admin (progressive enhancement): turns the form's body_html
// textarea into a TipTap editor (vendor/tiptap/tiptap.min.js, window.Tiptap) with headings,
// bold/italic, lists, links, quotes, pictures with captions, tables and "paste from Word or
// Google Docs" (ProseMirror keeps only what the schema knows). The editor writes its HTML into
// the textarea, which stays the form field: without JavaScript it is the editor. What is saved
// goes through the server's sanitiser (feedsvc.text.sanitise_html) like every body.
// Texts come from the template's data-* attributes, so they follow the admin's language.
(function () {
  "use strict";
  const { Editor, Node, mergeAttributes, StarterKit, Table, TableRow, TableHeader, TableCell } =
    window.Tiptap || {};
  const box = document.querySelector(".editor[data-upload-url]");
  const field = document.getElementById("f-body_html");
  if (!Editor || !box || !field) return;

  // <figure><img><figcaption>…</figcaption></figure>: a picture and its editable caption.
  const FigureImage = Node.create({
    name: "figureImage",
    atom: true,
    draggable: false,
    addAttributes() {
      return { src: { default: null }, alt: { default: "" } };
    },
    parseHTML() {
      return [{ tag: "img[src]" }];
    },
    renderHTML({ HTMLAttributes }) {
      return ["img", mergeAttributes(HTMLAttributes)];
    },
  });
  const Figcaption = Node.create({
    name: "figcaption",
    content: "inline*",
    parseHTML() {
      return [{ tag: "figcaption" }];
    },
    renderHTML() {
      return ["figcaption", 0];
    },
  });
  const Figure = Node.create({
    name: "figure",
    group: "block",
    content: "figureImage figcaption",
    isolating: true,
    parseHTML() {
      return [{ tag: "figure" }];
    },
    renderHTML() {
      return ["figure", 0];
    },
  });

  // A plain <table><tbody>: TipTap's own adds column widths in style attributes, which the
  // CSP (no inline styles) and the sanitiser would drop anyway.
  const PlainTable = Table.extend({
    renderHTML({ HTMLAttributes }) {
      return ["table", mergeAttributes(this.options.HTMLAttributes, HTMLAttributes), ["tbody", 0]];
    },
  });

  // Word and Google Docs put their looks in style attributes and <style> blocks: dropped
  // before ProseMirror reads the pasted HTML (keeping only what its schema knows), so that
  // the CSP has no inline style to refuse. The server's sanitiser drops them in any case.
  function withoutStyles(html) {
    return html
      .replace(/<style[\s\S]*?<\/style\s*>/gi, "")
      .replace(/\sstyle\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi, "");
  }

  const status = box.querySelector(".editor-status");
  const fileInput = box.querySelector(".editor-file");
  const csrf = field.form.querySelector('input[name="csrf_token"]');
  const cover = document.getElementById("f-image_url");
  const label = document.getElementById("l-body_html");
  const say = (text) => {
    status.textContent = text;
  };

  const editor = new Editor({
    element: box.querySelector(".editor-area"),
    injectCSS: false, // the CSP has no 'unsafe-inline' styles: admin.css styles the editor
    extensions: [
      StarterKit.configure({
        heading: { levels: [2, 3, 4] },
        code: false,
        codeBlock: false,
        link: { openOnClick: false, autolink: true, defaultProtocol: "https" },
      }),
      PlainTable.configure({ resizable: false }),
      TableRow,
      TableHeader,
      TableCell,
      Figure,
      FigureImage,
      Figcaption,
    ],
    content: field.value,
    editorProps: {
      transformPastedHTML: withoutStyles,
      attributes: {
        class: "article-body",
        role: "textbox",
        "aria-multiline": "true",
        "aria-label": box.dataset.label,
        "aria-describedby": "h-body_html",
      },
    },
    onUpdate: () => {
      field.value = html();
    },
    onTransaction: () => showState(),
  });

  // The editor's HTML, without the empty paragraph it keeps after a last picture or table.
  function html() {
    return editor.getHTML().replace(/(<p><\/p>)+$/, "");
  }

  const buttons = box.querySelectorAll("button[data-command]");
  function showState() {
    const active = {
      heading2: editor.isActive("heading", { level: 2 }),
      heading3: editor.isActive("heading", { level: 3 }),
      bold: editor.isActive("bold"),
      italic: editor.isActive("italic"),
      bulletList: editor.isActive("bulletList"),
      orderedList: editor.isActive("orderedList"),
      blockquote: editor.isActive("blockquote"),
      link: editor.isActive("link"),
      source: !field.hidden,
    };
    const inTable = editor.isActive("table");
    for (const button of buttons) {
      const command = button.dataset.command;
      if (command in active) button.setAttribute("aria-pressed", String(active[command]));
      if (button.hasAttribute("data-in-table")) button.hidden = !inTable;
      if (command !== "source") button.disabled = !field.hidden;
    }
  }

  function editLink() {
    const current = editor.getAttributes("link").href || "";
    const href = window.prompt(box.dataset.linkPrompt, current);
    if (href === null) return;
    const chain = editor.chain().focus().extendMarkRange("link");
    (href.trim() ? chain.setLink({ href: href.trim() }) : chain.unsetLink()).run();
  }

  function toggleSource() {
    if (field.hidden) {
      field.value = html();
      field.hidden = false;
      label.htmlFor = field.id;
      box.querySelector(".editor-area").hidden = true;
      field.focus();
    } else {
      editor.commands.setContent(field.value, { emitUpdate: false });
      field.value = html();
      field.hidden = true;
      label.htmlFor = "";
      box.querySelector(".editor-area").hidden = false;
      editor.commands.focus();
    }
    showState();
  }

  const commands = {
    paragraph: (c) => c.setParagraph(),
    heading2: (c) => c.toggleHeading({ level: 2 }),
    heading3: (c) => c.toggleHeading({ level: 3 }),
    bold: (c) => c.toggleBold(),
    italic: (c) => c.toggleItalic(),
    bulletList: (c) => c.toggleBulletList(),
    orderedList: (c) => c.toggleOrderedList(),
    blockquote: (c) => c.toggleBlockquote(),
    table: (c) => c.insertTable({ rows: 3, cols: 3, withHeaderRow: true }),
    addRowAfter: (c) => c.addRowAfter(),
    addColumnAfter: (c) => c.addColumnAfter(),
    deleteRow: (c) => c.deleteRow(),
    deleteColumn: (c) => c.deleteColumn(),
    deleteTable: (c) => c.deleteTable(),
    undo: (c) => c.undo(),
    redo: (c) => c.redo(),
  };
  const toolbar = box.querySelector(".editor-toolbar");
  // A click on a button must not take the focus (and the selection) out of the text.
  toolbar.addEventListener("mousedown", (event) => {
    if (event.target.closest("button") && field.hidden) event.preventDefault();
  });
  toolbar.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-command]");
    if (!button) return;
    const command = button.dataset.command;
    if (command === "source") toggleSource();
    else if (command === "link") editLink();
    else if (command === "image") chooseFile("body");
    else commands[command](editor.chain().focus()).run();
  });

  // Where the next uploaded picture goes: into the text ("body") or only the article image.
  let uploadTarget = "body";
  const coverButton = document.querySelector(".editor-cover button");

  async function upload(file, target) {
    const form = new FormData();
    form.append("csrf_token", csrf.value);
    form.append("image", file);
    say(box.dataset.uploading);
    let response;
    try {
      response = await fetch(box.dataset.uploadUrl, {
        method: "POST",
        body: form,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      say(box.dataset.uploadFailed.replace("{status}", "0"));
      return;
    }
    const isJson = (response.headers.get("Content-Type") || "").startsWith("application/json");
    const answer = isJson ? await response.json() : {};
    if (!response.ok) {
      say(answer.error || box.dataset.uploadFailed.replace("{status}", String(response.status)));
      return;
    }
    if (target === "cover") {
      cover.value = answer.url;
      say(box.dataset.uploadedCoverOnly);
      return;
    }
    editor
      .chain()
      .focus()
      .insertContent({
        type: "figure",
        content: [
          { type: "figureImage", attrs: { src: answer.url, alt: "" } },
          { type: "figcaption" },
        ],
      })
      .run();
    // The first picture of an article becomes its image (its enclosure in feeds).
    if (cover && !cover.value) {
      cover.value = answer.url;
      say(box.dataset.uploadedCover);
    } else {
      say(box.dataset.uploaded);
    }
  }
  fileInput.addEventListener("change", () => {
    if (fileInput.files.length) upload(fileInput.files[0], uploadTarget);
    fileInput.value = "";
  });

  function chooseFile(target) {
    uploadTarget = target;
    fileInput.click();
  }
  if (cover && coverButton) {
    coverButton.addEventListener("click", () => chooseFile("cover"));
    coverButton.parentElement.hidden = false;
  }

  // The field changes only when the text does (onUpdate): an article opened and saved
  // without touching its body keeps it exactly, even HTML that the editor does not know.
  field.hidden = true;
  box.hidden = false;
  label.htmlFor = "";
  showState();
})();
