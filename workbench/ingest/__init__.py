"""Reading books (text, Gutenberg, Markdown, EPUB) into paragraphs and sections; storing them."""
