"""``rbm data``: create HDF5 data files (MNIST, synthetic digits, PNGs) and look at them.

Only Click and the standard library are imported at module level; NumPy, h5py and
Pillow come through :mod:`rbmcli.cli.lazy` so that ``rbm --help`` stays instant.
"""

import click

from rbmcli.cli import lazy
from rbmcli.cli.common import (Output, check_count, check_outputs, force_option, input_files,
                               seed_option)
from rbmcli.errors import InputError

_OUTPUT = click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
    help="Output HDF5 file ('-' for standard output). Written atomically: never left half-written.",
)


def _shown(path):
    return "<stdout>" if path == "-" else path


@click.group()
def data():
    """Create HDF5 data files and look at them.

    A data file holds `images` (N x pixels, uint8 0..255 or floats in [0, 1]),
    optional `labels` and an `image_shape` attribute, at the root or in groups
    such as `train` and `test`. Other commands name a data set as FILE.h5 (its
    `train` group, else the root), FILE.h5:GROUP, or - (standard input).

    \b
    Examples:
      rbm data mnist --from ../shared/data/mnist -o mnist.h5
      rbm data synthetic -n 10000 -o digits.h5
      rbm data images a.png b.png --invert -o mine.h5
      rbm data show mnist.h5:test -n 100 -o grid.png
    """


@data.command()
@_OUTPUT
@click.option("--from", "source_dir", metavar="DIR",
              help="Folder with the four idx files (.gz or raw); no download.")
@click.option("--url", metavar="PREFIX",
              help="URL prefix to download NAME.gz from [default: the PyTorch S3 mirror].")
@click.option("--validation", type=click.IntRange(0, 59999), default=0, show_default=True,
              metavar="N", help="Move the last N training images into a group `valid` "
              "(e.g. 10000: the 50,000/10,000 split of Hinton et al. 2006), for choices "
              "that must not look at `test`.")
@force_option()
def mnist(output, source_dir, url, validation, force):
    """Convert the MNIST idx files to HDF5.

    Writes groups `train` (60000 images) and `test` (10000), 28x28 uint8 with
    labels; with --validation N, `train` keeps the first 60000-N and `valid` holds the
    last N. Reads the idx files from a folder (--from) or downloads them (--url, or the
    default mirror), and checks the SHA-256 of each uncompressed file.

    \b
    Examples:
      rbm data mnist --from ../shared/data/mnist -o mnist.h5
      rbm data mnist -o mnist.h5
      rbm data mnist --url https://example.org/mnist/ -o mnist.h5
      rbm data mnist --from ../shared/data/mnist --validation 10000 -o split.h5
    """
    if source_dir is not None and url is not None:
        raise click.UsageError("--from and --url are mutually exclusive")
    check_outputs([Output(output, "-o", "HDF5")], (), force)
    splits = lazy.load_mnist(source_dir, url, log=lambda msg: click.echo(msg, err=True))
    if validation:
        images, labels = splits["train"]
        cut = len(images) - validation
        splits = {"train": (images[:cut], labels[:cut]),
                  "valid": (images[cut:], labels[cut:]), "test": splits["test"]}
    groups = {
        name: {"images": images, "labels": labels, "image_shape": (28, 28)}
        for name, (images, labels) in splits.items()
    }
    origin = source_dir if source_dir is not None else (url or lazy.MNIST_URL)
    lazy.write_dataset(output, groups, attrs={"source": "MNIST", "origin": str(origin)})
    click.echo(
        f"wrote {_shown(output)}: "
        + ", ".join(f"{name} {len(images)}" for name, (images, _) in splits.items())
        + " images of 28x28",
        err=True,
    )


@data.command()
@_OUTPUT
@click.option("-n", "count", type=click.IntRange(min=1), default=10000, show_default=True,
              help="Number of training images (the test group gets n/5).")
@seed_option()
@force_option()
def synthetic(output, count, seed, force):
    """Draw MNIST-like digits; no download needed.

    The digits (28x28, white on black) are drawn with Pillow's font, randomly
    rotated, scaled, slanted and shifted. Group `train` has n images, group `test` n/5 others (a different random
    stream), both with labels.

    \b
    Examples:
      rbm data synthetic -o digits.h5
      rbm data synthetic -n 2000 --seed 3 -o small.h5
    """
    check_outputs([Output(output, "-o", "HDF5")], (), force)
    check_count("-n", count, (count + max(1, count // 5)) * 28 * 28, "images")
    train = lazy.synthetic_digits(count, seed=seed)
    test = lazy.synthetic_digits(max(1, count // 5), seed=[seed, 1])
    groups = {
        name: {"images": images, "labels": labels, "image_shape": (28, 28)}
        for name, (images, labels) in (("train", train), ("test", test))
    }
    lazy.write_dataset(output, groups, attrs={"source": "synthetic digits", "seed": seed})
    click.echo(
        f"wrote {_shown(output)}: train {len(train[0])}, test {len(test[0])} "
        "synthetic images of 28x28",
        err=True,
    )


@data.command()
@click.argument("pngs", nargs=-1, required=True, metavar="PNG...")
@_OUTPUT
@click.option("--invert", is_flag=True,
              help="Invert grey levels (dark ink on white paper -> white on black, like MNIST).")
@force_option()
def images(pngs, output, invert, force):
    """Pack same-size PNG images into a data file.

    The images go to the root `images` as grey uint8. Colour is turned into grey; transparent pixels count as background (black,
    or white paper with --invert).

    \b
    Examples:
      rbm data images digit-*.png -o mine.h5
      rbm data images scan1.png scan2.png --invert -o scans.h5
    """
    check_outputs([Output(output, "-o", "HDF5")], input_files(*pngs), force)
    stack = []
    for path in pngs:
        grey, alpha = lazy.read_png(path)
        if stack and grey.shape != stack[0].shape:
            rows, cols = stack[0].shape
            raise InputError(
                f"size {grey.shape[0]}x{grey.shape[1]} differs from {rows}x{cols} of {pngs[0]}", path
            )
        if alpha is not None:
            background = 1.0 if invert else 0.0
            grey = grey * alpha + background * (1 - alpha)
        stack.append(1 - grey if invert else grey)
    np = lazy.np
    pixels = (np.clip(np.stack(stack), 0, 1) * 255 + 0.5).astype(np.uint8)
    rows, cols = pixels.shape[1:]
    lazy.write_dataset(output, {"": {"images": pixels, "image_shape": (rows, cols)}},
                       attrs={"source": "PNG images"})
    click.echo(f"wrote {_shown(output)}: {len(pixels)} images of {rows}x{cols}", err=True)


@data.command()
@click.argument("spec", metavar="FILE[:GROUP]")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Output PNG file ('-' for standard output).")
@click.option("-n", "count", type=click.IntRange(min=1), default=64, show_default=True,
              help="Number of images shown (the first n).")
@click.option("--scale", type=click.IntRange(min=1), default=2, show_default=True,
              help="Pixels per image pixel.")
@force_option()
def show(spec, output, count, scale, force):
    """Save the first n images of a data set as a PNG grid.

    \b
    Examples:
      rbm data show mnist.h5 -o train.png
      rbm data show mnist.h5:test -n 100 -o test.png
      rbm data synthetic -n 100 -o - | rbm data show - -o digits.png
    """
    check_outputs([Output(output, "-o", "PNG", suffixes=(".png",))], input_files(spec), force)
    ds = lazy.load_dataset(spec)
    shown = lazy.as_unit_float(ds.images[:count])
    lazy.save_grid(output, shown, ds.image_shape, scale=scale)
    rows, cols = ds.image_shape
    click.echo(f"wrote {_shown(output)}: {len(shown)} images of {rows}x{cols} from {ds.source}", err=True)
