"""Reading books (text, Project Gutenberg, Markdown, EPUB) into paragraphs and sections, and storing them."""
