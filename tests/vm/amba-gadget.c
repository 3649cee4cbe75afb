/*
 * A virtual Ambarella A9 body camera for the virtual docking station (tests/vm/run).
 *
 * Built on the host by tests/vm/run (`cc -static`), run inside the station under
 * systemd-run. On dummy_hcd, through configfs (libcomposite), it enumerates as USB 4255:0001
 * with the given serial and a vendor interface served by FunctionFS, and answers the camera's
 * control transfers:
 *
 *   login      OUT 0x40, request 85, value 0x0080, 64 bytes "a1 12 00 12" + ASCII password
 *   disk mode  OUT 0x40, request 80, value 0x0080, 64 bytes "a1 23 00 23"
 *   reply      IN  0xC0, request 85, value 0x0080, 10 bytes; byte 2 is 1 when logged in
 *
 * After disk mode it leaves the bus and comes back as USB mass storage (same ids, same
 * serial) backed by the recorder image, as the camera does. Every request is printed, one
 * line each, for the test to read from the journal (never the password).
 *
 * Usage:
 *   amba-gadget camera SERIAL PASSWORD IMAGE [vanish]
 *       "vanish": pulled out when disk mode is asked (after the login), before answering.
 *   amba-gadget storage VID PID SERIAL IMAGE
 *       a recorder that is a plain USB disk.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define GADGETS "/sys/kernel/config/usb_gadget"

static char gadget[256];

static void die(const char *what) {
    fprintf(stdout, "amba-gadget: %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static void put(const char *rel, const char *value) {
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", gadget, rel);
    f = fopen(path, "w");
    if (!f || fputs(value, f) < 0 || fclose(f) != 0)
        die(path);
}

static void dir(const char *rel) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", gadget, rel);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
}

static void link_function(const char *function) {
    char from[512], to[512];
    snprintf(from, sizeof from, "%s/functions/%s", gadget, function);
    snprintf(to, sizeof to, "%s/configs/c.1/%s", gadget, function);
    if (symlink(from, to) != 0)
        die(to);
}

static const char *udc(void) {
    static char name[128];
    FILE *p = popen("ls /sys/class/udc | head -n 1", "r");
    if (!p || !fgets(name, sizeof name, p))
        die("no UDC (modprobe dummy_hcd)");
    pclose(p);
    name[strcspn(name, "\n")] = 0;
    return name;
}

static void device(const char *vid, const char *pid, const char *serial) {
    snprintf(gadget, sizeof gadget, GADGETS "/%s", serial);
    if (mkdir(gadget, 0755) != 0)
        die(gadget);
    put("idVendor", vid);
    put("idProduct", pid);
    put("bcdUSB", "0x0200");
    dir("strings/0x409");
    put("strings/0x409/serialnumber", serial);
    put("strings/0x409/manufacturer", "evidock test");
    put("strings/0x409/product", "virtual body camera");
    dir("configs/c.1");
    dir("configs/c.1/strings/0x409");
    put("configs/c.1/strings/0x409/configuration", "c1");
    put("configs/c.1/MaxPower", "250");
}

static void storage(const char *image) {
    dir("functions/mass_storage.0");
    put("functions/mass_storage.0/lun.0/removable", "0");
    put("functions/mass_storage.0/lun.0/file", image);
    link_function("mass_storage.0");
    put("UDC", udc());
    printf("storage: mass storage on %s\n", image);
    fflush(stdout);
}

struct descriptors {
    struct usb_functionfs_descs_head_v2 header;
    __le32 fs_count;
    __le32 hs_count;
    struct {
        struct usb_interface_descriptor intf;
        struct usb_endpoint_descriptor_no_audio in, out;
    } __attribute__((packed)) fs, hs;
} __attribute__((packed));

struct strings {
    struct usb_functionfs_strings_head header;
    struct {
        __le16 code;
        char str[sizeof "camera"];
    } __attribute__((packed)) lang;
} __attribute__((packed));

static void fill(typeof(((struct descriptors *)0)->fs) *d, int packet) {
    d->intf.bLength = USB_DT_INTERFACE_SIZE;
    d->intf.bDescriptorType = USB_DT_INTERFACE;
    d->intf.bNumEndpoints = 2;
    d->intf.bInterfaceClass = USB_CLASS_VENDOR_SPEC;
    d->intf.iInterface = 1;
    d->in.bLength = d->out.bLength = USB_DT_ENDPOINT_SIZE;
    d->in.bDescriptorType = d->out.bDescriptorType = USB_DT_ENDPOINT;
    d->in.bEndpointAddress = 1 | USB_DIR_IN;
    d->out.bEndpointAddress = 2 | USB_DIR_OUT;
    d->in.bmAttributes = d->out.bmAttributes = USB_ENDPOINT_XFER_BULK;
    d->in.wMaxPacketSize = d->out.wMaxPacketSize = htole16(packet);
}

static int camera(const char *serial, const char *password, const char *image, int vanish) {
    struct descriptors d;
    struct strings s;
    char mnt[256], ep0path[300];
    int ep0, logged_in = 0;
    device("0x4255", "0x0001", serial);
    dir("functions/ffs.camera");
    snprintf(mnt, sizeof mnt, "/run/amba-%s", serial);
    mkdir(mnt, 0755);
    if (mount("camera", mnt, "functionfs", 0, NULL) != 0)
        die("mount functionfs");
    snprintf(ep0path, sizeof ep0path, "%s/ep0", mnt);
    ep0 = open(ep0path, O_RDWR);
    if (ep0 < 0)
        die(ep0path);
    memset(&d, 0, sizeof d);
    d.header.magic = htole32(FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
    d.header.flags = htole32(FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC | FUNCTIONFS_ALL_CTRL_RECIP);
    d.header.length = htole32(sizeof d);
    d.fs_count = htole32(3);
    d.hs_count = htole32(3);
    fill(&d.fs, 64);
    fill(&d.hs, 512);
    if (write(ep0, &d, sizeof d) != sizeof d)
        die("write descriptors");
    memset(&s, 0, sizeof s);
    s.header.magic = htole32(FUNCTIONFS_STRINGS_MAGIC);
    s.header.length = htole32(sizeof s);
    s.header.str_count = htole32(1);
    s.header.lang_count = htole32(1);
    s.lang.code = htole16(0x0409);
    strcpy(s.lang.str, "camera");
    if (write(ep0, &s, sizeof s) != sizeof s)
        die("write strings");
    link_function("ffs.camera");
    put("UDC", udc());
    printf("camera: %s in login mode\n", serial);
    fflush(stdout);
    for (;;) {
        struct usb_functionfs_event ev[4];
        ssize_t n = read(ep0, ev, sizeof ev);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            die("read ep0");
        }
        for (ssize_t i = 0; i < n / (ssize_t)sizeof ev[0]; i++) {
            struct usb_ctrlrequest *c = &ev[i].u.setup;
            unsigned len = le16toh(c->wLength);
            unsigned char data[64] = {0}, reply[10] = {0};
            if (ev[i].type != FUNCTIONFS_SETUP)
                continue;
            if (c->bRequestType == 0x40 && le16toh(c->wValue) == 0x0080 && len == 64 &&
                (c->bRequest == 85 || c->bRequest == 80)) {
                if (c->bRequest == 80 && vanish && logged_in) {
                    printf("request: disk mode: pulled out before answering\n");
                    fflush(stdout);
                    put("UDC", "");
                    return 0;
                }
                if (read(ep0, data, 64) != 64)
                    die("read request data");
                if (c->bRequest == 85 && !memcmp(data, "\xa1\x12\x00\x12", 4)) {
                    logged_in = strncmp((char *)data + 4, password, 60) == 0 && strlen(password) <= 60;
                    printf("request: login: %s\n", logged_in ? "accepted" : "refused");
                } else if (c->bRequest == 80 && !memcmp(data, "\xa1\x23\x00\x23", 4)) {
                    printf("request: disk mode: %s\n", logged_in ? "switching" : "refused (not logged in)");
                    if (logged_in) {
                        fflush(stdout);
                        /* Leave the bus and come back as the camera's storage. */
                        put("UDC", "");
                        close(ep0);
                        if (umount(mnt) != 0)
                            die("umount functionfs");
                        {
                            char p[512];
                            snprintf(p, sizeof p, "%s/configs/c.1/ffs.camera", gadget);
                            unlink(p);
                            snprintf(p, sizeof p, "%s/functions/ffs.camera", gadget);
                            rmdir(p);
                        }
                        storage(image);
                        return 0;
                    }
                } else {
                    printf("request: unknown command\n");
                }
            } else if (c->bRequestType == 0xC0 && c->bRequest == 85 && le16toh(c->wValue) == 0x0080) {
                reply[2] = logged_in ? 1 : 0;
                if (write(ep0, reply, len < 10 ? len : 10) < 0)
                    die("write reply");
                printf("request: reply %d\n", reply[2]);
            } else {
                printf("request: other (type 0x%02x request %d): stalled\n", c->bRequestType, c->bRequest);
                /* Stall: a transfer in the wrong direction. */
                if (c->bRequestType & USB_DIR_IN)
                    (void)!read(ep0, NULL, 0);
                else
                    (void)!write(ep0, NULL, 0);
            }
            fflush(stdout);
        }
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 5 && !strcmp(argv[1], "camera"))
        return camera(argv[2], argv[3], argv[4], argc > 5 && !strcmp(argv[5], "vanish"));
    if (argc == 6 && !strcmp(argv[1], "storage")) {
        device(argv[2], argv[3], argv[4]);
        storage(argv[5]);
        return 0;
    }
    fprintf(stderr, "usage: amba-gadget camera SERIAL PASSWORD IMAGE [vanish] | storage VID PID SERIAL IMAGE\n");
    return 2;
}
