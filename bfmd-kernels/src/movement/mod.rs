//! Data-movement ops that do not look at element values: concatenation and split along channels,
//! channel shuffle, pad, transpose. Written once, generic over the element type, with
//! `<op>_<dtype>` aliases for the dtypes bfmd runs.

pub mod concat;
pub mod pad;
pub mod shuffle;
pub mod transpose;
