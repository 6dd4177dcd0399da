//! PCI addresses and what sysfs says about a function: driver, IOMMU group, IDs.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A PCI function address, `domain:bus:device.function`: the one type of the device
/// protocol layer, shared with the library.
pub use evnic_proto::pci::PciAddress;

impl From<evnic_proto::pci::BadPciAddress> for Error {
    fn from(e: evnic_proto::pci::BadPciAddress) -> Error {
        Error::InvalidAddress { given: e.given }
    }
}

/// A device that shares an IOMMU group, with its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Its address as sysfs names it.
    pub addr: String,
    /// The driver bound to it, if any.
    pub driver: Option<String>,
}

/// What sysfs says about one PCI function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The function's address.
    pub addr: PciAddress,
    /// PCI vendor ID.
    pub vendor: u16,
    /// PCI device ID.
    pub device: u16,
    /// The bound driver, if any.
    pub driver: Option<String>,
    /// The IOMMU group, if the IOMMU is on.
    pub iommu_group: Option<u32>,
    /// All devices of the IOMMU group, this one included.
    pub group_members: Vec<GroupMember>,
}

impl DeviceInfo {
    /// Group members bound to a driver that is not a VFIO driver: they make the group unusable.
    /// Bridges bound to `pcieport` and devices held by `pci-stub` do not block.
    pub fn blockers(&self) -> Vec<GroupMember> {
        self.group_members
            .iter()
            .filter(|m| {
                matches!(&m.driver, Some(d) if !d.starts_with("vfio") && d != "pcieport" && d != "pci-stub")
            })
            .cloned()
            .collect()
    }
}

/// Where sysfs and `/dev` are (normally `/sys` and `/dev`; tests point them at a fake tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysfs {
    /// The sysfs mount point.
    pub sys: PathBuf,
    /// The devtmpfs mount point.
    pub dev: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Sysfs {
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
        }
    }
}

fn link_name(p: &Path) -> Option<String> {
    fs::read_link(p)
        .ok()?
        .file_name()?
        .to_str()
        .map(str::to_string)
}

fn read_hex_u16(p: &Path) -> Result<u16> {
    let s = fs::read_to_string(p).map_err(|e| Error::io(format!("read {}", p.display()), e))?;
    let t = s.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    u16::from_str_radix(t, 16).map_err(|_| {
        Error::io(
            format!("parse {}", p.display()),
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not a hex ID: {s:?}"),
            ),
        )
    })
}

impl Sysfs {
    /// The sysfs directory of a function.
    pub fn device_dir(&self, addr: &PciAddress) -> PathBuf {
        self.sys.join("bus/pci/devices").join(addr.to_string())
    }

    /// The VFIO group file of an IOMMU group.
    pub fn group_file(&self, group: u32) -> PathBuf {
        self.dev.join("vfio").join(group.to_string())
    }

    /// The VFIO container file.
    pub fn container_file(&self) -> PathBuf {
        self.dev.join("vfio/vfio")
    }

    /// Reads what sysfs knows about the function at `addr`.
    pub fn info(&self, addr: &PciAddress) -> Result<DeviceInfo> {
        let dir = self.device_dir(addr);
        if !dir.exists() {
            return Err(Error::NoSuchDevice {
                addr: addr.to_string(),
            });
        }
        let vendor = read_hex_u16(&dir.join("vendor"))?;
        let device = read_hex_u16(&dir.join("device"))?;
        let driver = link_name(&dir.join("driver"));
        let iommu_group = link_name(&dir.join("iommu_group")).and_then(|g| g.parse().ok());
        let mut group_members = Vec::new();
        if iommu_group.is_some() {
            let devs = dir.join("iommu_group/devices");
            let rd = fs::read_dir(&devs)
                .map_err(|e| Error::io(format!("read_dir {}", devs.display()), e))?;
            for ent in rd.flatten() {
                let name = ent.file_name().to_string_lossy().into_owned();
                let drv = link_name(&self.sys.join("bus/pci/devices").join(&name).join("driver"));
                group_members.push(GroupMember {
                    addr: name,
                    driver: drv,
                });
            }
            group_members.sort_by(|a, b| a.addr.cmp(&b.addr));
        }
        Ok(DeviceInfo {
            addr: *addr,
            vendor,
            device,
            driver,
            iommu_group,
            group_members,
        })
    }

    /// Checks that `addr` can be opened through VFIO, in the order a user would fix things:
    /// present, has an IOMMU group (without one vfio-pci cannot even bind), bound to vfio-pci,
    /// VFIO loaded, group viable. Returns the device info and its group number.
    pub fn check_usable(&self, addr: &PciAddress) -> Result<(DeviceInfo, u32)> {
        let info = self.info(addr)?;
        let a = addr.to_string();
        let Some(group) = info.iommu_group else {
            return Err(Error::NoIommu { addr: a });
        };
        if info.driver.as_deref() != Some("vfio-pci") {
            return Err(Error::NotBoundToVfio {
                addr: a,
                driver: info.driver.clone(),
            });
        }
        if !self.container_file().exists() {
            return Err(Error::VfioNotLoaded);
        }
        let blockers = info.blockers();
        if !blockers.is_empty() {
            return Err(Error::GroupNotViable {
                group,
                addr: a,
                blockers,
            });
        }
        Ok((info, group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn a_bad_address_is_an_invalid_address_error_naming_the_fix() {
        for s in ["", "0000:01:20.0", "zz:00.0", "0000:100:00.0"] {
            match s.parse::<PciAddress>().map_err(Error::from) {
                Err(Error::InvalidAddress { given }) => assert_eq!(given, s),
                other => panic!("{s:?} parsed as {other:?}"),
            }
        }
        let msg = Error::from("x".parse::<PciAddress>().unwrap_err()).to_string();
        assert!(
            msg.contains("0000:01:00.0") && msg.contains("lspci"),
            "{msg}"
        );
    }

    /// A fake /sys + /dev tree in a fresh temporary directory.
    struct Fake {
        root: PathBuf,
        fs: Sysfs,
    }

    impl Fake {
        fn new() -> Fake {
            static N: AtomicU32 = AtomicU32::new(0);
            let root = std::env::temp_dir().join(format!(
                "evnic-driver-sysfs-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("sys/bus/pci/devices")).unwrap();
            fs::create_dir_all(root.join("sys/bus/pci/drivers")).unwrap();
            fs::create_dir_all(root.join("sys/kernel/iommu_groups")).unwrap();
            fs::create_dir_all(root.join("dev")).unwrap();
            let fs = Sysfs {
                sys: root.join("sys"),
                dev: root.join("dev"),
            };
            Fake { root, fs }
        }
        fn add(&self, addr: &str, driver: Option<&str>, group: Option<u32>) {
            let d = self.fs.sys.join("bus/pci/devices").join(addr);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("vendor"), "0x1234\n").unwrap();
            fs::write(d.join("device"), "0x11e8\n").unwrap();
            if let Some(drv) = driver {
                let dd = self.fs.sys.join("bus/pci/drivers").join(drv);
                fs::create_dir_all(&dd).unwrap();
                symlink(&dd, d.join("driver")).unwrap();
            }
            if let Some(g) = group {
                let gd = self.fs.sys.join("kernel/iommu_groups").join(g.to_string());
                fs::create_dir_all(gd.join("devices")).unwrap();
                symlink(&gd, d.join("iommu_group")).unwrap();
                symlink(&d, gd.join("devices").join(addr)).unwrap();
            }
        }
        fn load_vfio(&self) {
            fs::create_dir_all(self.fs.dev.join("vfio")).unwrap();
            fs::write(self.fs.dev.join("vfio/vfio"), "").unwrap();
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.root);
        }
    }

    fn addr(s: &str) -> PciAddress {
        s.parse().unwrap()
    }

    #[test]
    fn missing_device() {
        let f = Fake::new();
        let e = f.fs.check_usable(&addr("0000:01:00.0")).unwrap_err();
        assert!(
            matches!(&e, Error::NoSuchDevice { addr } if addr == "0000:01:00.0"),
            "{e:?}"
        );
        assert!(e.to_string().contains("lspci"));
    }

    #[test]
    fn reads_ids_driver_and_group() {
        let f = Fake::new();
        f.add("0000:01:00.0", Some("vfio-pci"), Some(7));
        f.add("0000:01:00.1", None, Some(7));
        let i = f.fs.info(&addr("0000:01:00.0")).unwrap();
        assert_eq!((i.vendor, i.device), (0x1234, 0x11e8));
        assert_eq!(i.driver.as_deref(), Some("vfio-pci"));
        assert_eq!(i.iommu_group, Some(7));
        assert_eq!(
            i.group_members,
            vec![
                GroupMember {
                    addr: "0000:01:00.0".into(),
                    driver: Some("vfio-pci".into())
                },
                GroupMember {
                    addr: "0000:01:00.1".into(),
                    driver: None
                },
            ]
        );
        assert!(i.blockers().is_empty());
    }

    #[test]
    fn bad_id_file_is_an_error() {
        let f = Fake::new();
        f.add("0000:01:00.0", Some("vfio-pci"), Some(1));
        fs::write(
            f.fs.device_dir(&addr("0000:01:00.0")).join("vendor"),
            "nonsense",
        )
        .unwrap();
        let e = f.fs.info(&addr("0000:01:00.0")).unwrap_err();
        assert!(e.to_string().contains("not a hex ID"), "{e}");
    }

    #[test]
    fn unbound_and_wrongly_bound() {
        let f = Fake::new();
        f.load_vfio();
        f.add("0000:01:00.0", None, Some(1));
        f.add("0000:02:00.0", Some("e1000e"), Some(2));
        let e = f.fs.check_usable(&addr("0000:01:00.0")).unwrap_err();
        assert!(
            matches!(&e, Error::NotBoundToVfio { driver: None, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("driver_override"), "{e}");
        let e = f.fs.check_usable(&addr("0000:02:00.0")).unwrap_err();
        assert!(matches!(&e, Error::NotBoundToVfio { driver: Some(d), .. } if d == "e1000e"));
        let msg = e.to_string();
        assert!(
            msg.contains("e1000e") && msg.contains("driver/unbind"),
            "{msg}"
        );
    }

    #[test]
    fn no_iommu_group() {
        let f = Fake::new();
        f.load_vfio();
        f.add("0000:01:00.0", Some("vfio-pci"), None);
        f.add("0000:02:00.0", None, None);
        let e = f.fs.check_usable(&addr("0000:01:00.0")).unwrap_err();
        assert!(matches!(e, Error::NoIommu { .. }), "{e:?}");
        // Without an IOMMU the cause is the IOMMU, not the (impossible) binding.
        let e = f.fs.check_usable(&addr("0000:02:00.0")).unwrap_err();
        assert!(matches!(e, Error::NoIommu { .. }), "{e:?}");
        assert!(e.to_string().contains("intel_iommu=on"));
    }

    #[test]
    fn vfio_not_loaded() {
        let f = Fake::new();
        f.add("0000:01:00.0", Some("vfio-pci"), Some(3));
        let e = f.fs.check_usable(&addr("0000:01:00.0")).unwrap_err();
        assert!(matches!(e, Error::VfioNotLoaded), "{e:?}");
        assert!(e.to_string().contains("modprobe vfio-pci"));
    }

    #[test]
    fn group_not_viable_names_the_blockers() {
        let f = Fake::new();
        f.load_vfio();
        f.add("0000:00:1c.0", Some("pcieport"), Some(5));
        f.add("0000:03:00.0", Some("vfio-pci"), Some(5));
        f.add("0000:03:00.1", Some("igb"), Some(5));
        f.add("0000:03:00.2", None, Some(5));
        let e = f.fs.check_usable(&addr("0000:03:00.0")).unwrap_err();
        match &e {
            Error::GroupNotViable {
                group, blockers, ..
            } => {
                assert_eq!(*group, 5);
                assert_eq!(
                    blockers,
                    &vec![GroupMember {
                        addr: "0000:03:00.1".into(),
                        driver: Some("igb".into())
                    }]
                );
            }
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.contains("0000:03:00.1 is bound to 'igb'") && msg.contains("unbind"),
            "{msg}"
        );
    }

    #[test]
    fn usable_device() {
        let f = Fake::new();
        f.load_vfio();
        f.add("0000:01:00.0", Some("vfio-pci"), Some(9));
        let (info, group) = f.fs.check_usable(&addr("0000:01:00.0")).unwrap();
        assert_eq!(group, 9);
        assert_eq!(info.addr.to_string(), "0000:01:00.0");
        assert_eq!(f.fs.group_file(9), f.fs.dev.join("vfio/9"));
    }
}
