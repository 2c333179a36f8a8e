use std::collections::HashMap;

fn main() {
    let mut m: HashMap<String, u32> = HashMap::new();
    m.insert("a".into(), 1);
    println!("{m:?}");
}
