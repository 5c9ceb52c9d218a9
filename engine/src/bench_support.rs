//! The CPU path of one page, without the network, for benchmarks.

use crate::error::{Error, Result};
use crate::extract::{Batch, Extractor, Placeholders, infer_columns};
use crate::job::{Job, JobFormat};
use crate::json::{Parser, Scratch};
use crate::run::{page_records, reparse_selected};
use crate::vars::Vars;

/// Parses a page and extracts the job's columns from it.
#[derive(Debug)]
pub struct PagePipeline {
    job: Job,
    parser: Parser,
    scratch: Scratch,
    reparse: Scratch,
    extractor: Option<Extractor>,
}

impl PagePipeline {
    /// A pipeline for a job given as TOML text.
    pub fn new(job_toml: &str) -> Result<PagePipeline> {
        let job = Job::parse(job_toml, JobFormat::Toml, "bench job", &Vars::isolated([]))?;
        let extractor = job.columns.clone().map(|c| Extractor::new(c, &job.records));
        Ok(PagePipeline {
            job,
            parser: Parser::default(),
            scratch: Scratch::default(),
            reparse: Scratch::default(),
            extractor,
        })
    }

    /// Parses `body` and extracts its records; returns how many rows came out.
    pub fn run(&mut self, body: &[u8]) -> Result<usize> {
        let page = self
            .parser
            .parse(body, &mut self.scratch)
            .map_err(Error::data)?;
        let reparsed = reparse_selected(
            &page,
            &self.job.records,
            &mut self.parser,
            &mut self.reparse,
        )
        .map_err(Error::data)?;
        let records = page_records(&page, &reparsed, &self.job.records).map_err(Error::data)?;
        let records_config = &self.job.records;
        let extractor = self.extractor.get_or_insert_with(|| {
            Extractor::new(
                infer_columns(&records, &records_config.flatten),
                records_config,
            )
        });
        let mut batch = Batch::default();
        extractor.extract(&records, &Placeholders::new(), &mut batch);
        Ok(batch.rows)
    }
}
