//! The model's ports against the pin table: the Verilog the simulator is built from (as the
//! RTL generates it, and as Yosys flattens it) declares exactly the ports of
//! `evnic_regs::pins::PINS` plus the clock, with the same names, directions and widths. (The
//! build checks the same before it generates the pin structs of both sides from the table.)

use evnic_regs::pins::{check_module, module_ports, Dir, PINS};

fn verilog(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_generated_verilog_has_exactly_the_pins_of_the_table() {
    for path in [env!("EVNIC_VERILOG"), env!("EVNIC_VERILOG_FLAT")] {
        let v = verilog(path);
        assert_eq!(check_module(&v, "top"), Ok(()), "{path}");
        let ports = module_ports(&v, "top").unwrap();
        assert_eq!(
            ports.len(),
            PINS.len() + 1,
            "{path}: the table and the clock"
        );
    }
}

#[test]
fn the_table_has_inputs_and_outputs_of_the_widths_the_model_uses() {
    let width = |name: &str| PINS.iter().find(|p| p.name == name).unwrap().width;
    assert_eq!(width("bar_req_addr"), evnic_regs::map::BAR_ADDR_BITS);
    assert_eq!(width("dbg_key"), evnic_regs::key::KEY_BITS);
    assert!(PINS.iter().any(|p| p.dir == Dir::In) && PINS.iter().any(|p| p.dir == Dir::Out));
}
