// The parser and artifact writers allocate many small strings and maps;
// mimalloc roughly halves their time compared with glibc's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(rdbt::cli::run(std::env::args_os()))
}
