//! The text sinks' shared writer, and CSV rows (RFC 4180).

use super::*;

/// NDJSON (one object per record) or CSV (a header row unless turned off,
/// RFC 4180 quoting, `\n` line ends; a null is an empty field, an empty
/// string or binary `""`): the text formats, rows encoded by a
/// [`TextEncoder`].
#[derive(Debug)]
pub(crate) struct TextSink {
    out: Destination,
    encoder: TextEncoder,
    /// Written before the first row, or at the end if there is none.
    header: Option<Vec<u8>>,
    buffer: Vec<u8>,
}

impl TextSink {
    pub(crate) fn ndjson(out: Destination, columns: &[ColumnSpec]) -> TextSink {
        TextSink::new(out, TextEncoder::Ndjson(NdjsonEncoder::new(columns)), None)
    }

    /// The header goes first, unless the destination is a resumed file,
    /// which has it already.
    pub(crate) fn csv(
        out: Destination,
        columns: &[ColumnSpec],
        delimiter: u8,
        header: bool,
    ) -> TextSink {
        let header = (header && out.start == 0).then(|| {
            let mut line = Vec::new();
            for (i, c) in columns.iter().enumerate() {
                if i > 0 {
                    line.push(delimiter);
                }
                write_csv_field(c.name.as_bytes(), delimiter, false, &mut line);
            }
            line.push(b'\n');
            line
        });
        TextSink::new(out, TextEncoder::Csv { delimiter }, header)
    }

    pub(super) fn new(out: Destination, encoder: TextEncoder, header: Option<Vec<u8>>) -> TextSink {
        TextSink {
            out,
            encoder,
            header,
            buffer: Vec::new(),
        }
    }

    pub(super) fn write_header(&mut self) -> io::Result<()> {
        if let Some(header) = self.header.take() {
            self.out.writer.write_all(&header)?;
        }
        Ok(())
    }
}

impl Sink for TextSink {
    fn page(&mut self, page: &PageOut<'_>) -> io::Result<()> {
        self.write_header()?;
        self.buffer.clear();
        self.encoder
            .encode(page.batch, page.columns.len(), &mut self.buffer);
        self.out.writer.write_all(&self.buffer)
    }

    fn encoded(&mut self, rows: Vec<u8>) -> io::Result<()> {
        self.write_header()?;
        self.out.writer.write_owned(rows)
    }

    fn columns_changed(&mut self, columns: &[ColumnSpec]) -> io::Result<()> {
        if let TextEncoder::Ndjson(_) = self.encoder {
            self.encoder = TextEncoder::Ndjson(NdjsonEncoder::new(columns));
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> io::Result<Mark> {
        self.out.checkpoint()
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.write_header()?;
        self.out.commit()
    }
}

/// Appends one CSV line: a null is an empty field, any other empty value
/// is `""`. A row of one null field is `""` too: as an empty line, most
/// readers (pandas, Spark, the `csv` crate) would skip the record.
/// `hours` is kept from row to row.
pub(super) fn encode_csv_row(
    cells: &[Cell<'_>],
    delimiter: u8,
    hours: &mut Hours,
    field: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        field.clear();
        let text: &[u8] = match cell {
            Cell::Null => continue,
            Cell::Str(s) => s.as_bytes(),
            Cell::Json(text) => text,
            other => {
                if !write_string_text(other, hours, field) {
                    write_json_cell_in(other, hours, field);
                }
                field
            }
        };
        write_csv_field(text, delimiter, text.is_empty(), out);
    }
    if let [Cell::Null] = cells {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

pub(super) fn write_csv_field(text: &[u8], delimiter: u8, force_quotes: bool, out: &mut Vec<u8>) {
    let quote = force_quotes
        || text
            .iter()
            .any(|&b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r');
    if !quote {
        out.extend_from_slice(text);
        return;
    }
    out.push(b'"');
    for &b in text {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}
