"""S3FD, the Single Shot Scale-invariant Face Detector (Zhang et al., ICCV 2017), as a Paddle layer.

The network is the VGG16-based S3FD of face-alignment (``face_alignment/detection/sfd/net_s3fd.py``),
which is also PaddleGAN's ``ppgan/faceutils/face_detection/detection/sfd/net_s3fd.py``: the same
parameter names, so PaddleGAN's ``s3fd_paddle.pdparams`` loads unchanged and face-alignment's
``s3fd-619a316812.pth`` loads after ``sfd_detector.convert_s3fd_state_dict``.
Note that ``fc6`` is a 3x3 conv with padding 3 and *no* dilation (unlike the Caffe original), which
makes the fc7 map ``H/32 + 4`` wide; the published weights expect exactly this.
"""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F


class L2Norm(nn.Layer):
    """Channel-wise L2 normalisation with a learnt per-channel scale (ParseNet, Liu et al. 2015).

    ``forward(x)``: ``(N, C, H, W)`` -> ``x / (||x||_2 over C + eps) * weight``, same shape.
    """

    def __init__(self, n_channels, scale=1.0, eps=1e-10):
        super().__init__()
        self.eps = eps
        self.weight = self.create_parameter(
            [n_channels], default_initializer=nn.initializer.Constant(scale))

    def forward(self, x):
        norm = paddle.sqrt(paddle.sum(x * x, axis=1, keepdim=True)) + self.eps
        return x / norm * self.weight.reshape([1, -1, 1, 1])


def _conv(cin, cout, k=3, stride=1, padding=1):
    return nn.Conv2D(cin, cout, k, stride=stride, padding=padding)


class S3FD(nn.Layer):
    """S3FD network: VGG16 trunk, three L2-normalised taps and six detection heads.

    ``forward(x)``: ``x`` ``(N, 3, H, W)`` float32, **BGR** 0..255 minus the means
    ``[104, 117, 123]`` (see :func:`preprocess`) -> a list of 12 maps ``[cls1, reg1, ..., cls6, reg6]``
    at strides 4, 8, 16, 32, 64, 128: ``cls_i`` ``(N, 2, h_i, w_i)`` logits (background, face)
    and ``reg_i`` ``(N, 4, h_i, w_i)`` box offsets. The first head has 4 confidence channels and is
    "max-out" reduced to 2 (background = max of the first three), as in the original.
    """

    MEAN_BGR = (104.0, 117.0, 123.0)

    def __init__(self):
        super().__init__()
        self.conv1_1, self.conv1_2 = _conv(3, 64), _conv(64, 64)
        self.conv2_1, self.conv2_2 = _conv(64, 128), _conv(128, 128)
        self.conv3_1, self.conv3_2, self.conv3_3 = _conv(128, 256), _conv(256, 256), _conv(256, 256)
        self.conv4_1, self.conv4_2, self.conv4_3 = _conv(256, 512), _conv(512, 512), _conv(512, 512)
        self.conv5_1, self.conv5_2, self.conv5_3 = _conv(512, 512), _conv(512, 512), _conv(512, 512)
        self.fc6 = _conv(512, 1024, 3, padding=3)
        self.fc7 = _conv(1024, 1024, 1, padding=0)
        self.conv6_1 = _conv(1024, 256, 1, padding=0)
        self.conv6_2 = _conv(256, 512, 3, stride=2, padding=1)
        self.conv7_1 = _conv(512, 128, 1, padding=0)
        self.conv7_2 = _conv(128, 256, 3, stride=2, padding=1)
        self.conv3_3_norm = L2Norm(256, scale=10)
        self.conv4_3_norm = L2Norm(512, scale=8)
        self.conv5_3_norm = L2Norm(512, scale=5)
        self.conv3_3_norm_mbox_conf, self.conv3_3_norm_mbox_loc = _conv(256, 4), _conv(256, 4)
        self.conv4_3_norm_mbox_conf, self.conv4_3_norm_mbox_loc = _conv(512, 2), _conv(512, 4)
        self.conv5_3_norm_mbox_conf, self.conv5_3_norm_mbox_loc = _conv(512, 2), _conv(512, 4)
        self.fc7_mbox_conf, self.fc7_mbox_loc = _conv(1024, 2), _conv(1024, 4)
        self.conv6_2_mbox_conf, self.conv6_2_mbox_loc = _conv(512, 2), _conv(512, 4)
        self.conv7_2_mbox_conf, self.conv7_2_mbox_loc = _conv(256, 2), _conv(256, 4)

    def forward(self, x):
        h = F.relu(self.conv1_1(x))
        h = F.max_pool2d(F.relu(self.conv1_2(h)), 2, 2)
        h = F.relu(self.conv2_1(h))
        h = F.max_pool2d(F.relu(self.conv2_2(h)), 2, 2)
        h = F.relu(self.conv3_2(F.relu(self.conv3_1(h))))
        f3_3 = F.relu(self.conv3_3(h))
        h = F.max_pool2d(f3_3, 2, 2)
        h = F.relu(self.conv4_2(F.relu(self.conv4_1(h))))
        f4_3 = F.relu(self.conv4_3(h))
        h = F.max_pool2d(f4_3, 2, 2)
        h = F.relu(self.conv5_2(F.relu(self.conv5_1(h))))
        f5_3 = F.relu(self.conv5_3(h))
        h = F.max_pool2d(f5_3, 2, 2)
        h = F.relu(self.fc6(h))
        ffc7 = F.relu(self.fc7(h))
        f6_2 = F.relu(self.conv6_2(F.relu(self.conv6_1(ffc7))))
        f7_2 = F.relu(self.conv7_2(F.relu(self.conv7_1(f6_2))))

        f3_3, f4_3, f5_3 = self.conv3_3_norm(f3_3), self.conv4_3_norm(f4_3), self.conv5_3_norm(f5_3)
        cls1 = self.conv3_3_norm_mbox_conf(f3_3)
        background = paddle.max(cls1[:, 0:3], axis=1, keepdim=True)
        outputs = [paddle.concat([background, cls1[:, 3:4]], axis=1), self.conv3_3_norm_mbox_loc(f3_3)]
        for feat, conf, loc in ((f4_3, self.conv4_3_norm_mbox_conf, self.conv4_3_norm_mbox_loc),
                                (f5_3, self.conv5_3_norm_mbox_conf, self.conv5_3_norm_mbox_loc),
                                (ffc7, self.fc7_mbox_conf, self.fc7_mbox_loc),
                                (f6_2, self.conv6_2_mbox_conf, self.conv6_2_mbox_loc),
                                (f7_2, self.conv7_2_mbox_conf, self.conv7_2_mbox_loc)):
            outputs += [conf(feat), loc(feat)]
        return outputs


def preprocess(images_rgb):
    """RGB uint8 images ``(N, H, W, 3)`` -> S3FD input ``(N, 3, H, W)`` float32 (BGR minus means).

    The same tensor as face-alignment's ``batch_detect`` (RGB NCHW, ``flip`` to BGR, minus
    ``[104, 117, 123]``) and PaddleGAN's (BGR NHWC input): no scaling to [0, 1].
    """
    x = np.asarray(images_rgb, dtype=np.float32)[..., ::-1] - np.array(S3FD.MEAN_BGR, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
