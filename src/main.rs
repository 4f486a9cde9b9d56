fn main() {
    std::process::exit(rdbt::cli::run(std::env::args_os()))
}
